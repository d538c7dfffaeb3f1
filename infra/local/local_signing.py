"""SigV4 headers without the signature's arithmetic, for the local stack's SDK clients talking to moto.

moto reads an ``Authorization`` header for the access key (the account) and the credential scope (the
region) and never checks the signature. Computing it (canonical request, hashes, four HMACs) was a tenth of
the functions' CPU in ``make demo``. :func:`install` makes botocore's ``v4`` signer, in this process, write
the same headers (``X-Amz-Date``, the security token, ``Authorization`` with the real credential scope) with
a fixed signature instead. Local mode only, like :func:`infra.local.moto_http.install_client`: a function
deployed to Lambda signs with botocore untouched. S3's signers (``s3v4``, and the query signers of presigned
links, which the local stack checks for expiry) are left as they are.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore import auth
from botocore.exceptions import NoCredentialsError

# What a signature looks like (64 hex digits); moto never compares it.
UNCHECKED_SIGNATURE = "0" * 64


class UncheckedSigV4Auth(auth.SigV4Auth):
    """botocore's SigV4 signer, less the signature: the headers a server without signature checks reads."""

    def add_auth(self, request: Any) -> None:
        if self.credentials is None:
            raise NoCredentialsError()
        request.context["timestamp"] = datetime.now(UTC).strftime(auth.SIGV4_TIMESTAMP)
        # X-Amz-Date and the token set, a retry's old header removed (botocore's own step; not in the stubs)
        self._modify_request_before_signing(request)  # type: ignore[attr-defined]
        request.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.scope(request)}, SignedHeaders=host;x-amz-date, "
            f"Signature={UNCHECKED_SIGNATURE}"
        )


def install() -> None:
    """Sign ``v4`` requests of this process's clients (made before or after) with :class:`UncheckedSigV4Auth`
    (idempotent)."""
    auth.AUTH_TYPE_MAPS["v4"] = UncheckedSigV4Auth
