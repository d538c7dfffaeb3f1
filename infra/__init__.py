"""Infrastructure: the CDK app (``infra.app``), its constructs, the layer builder and the local stack."""

import os

# jsii prints a large banner on every CDK import when Node is past its end of life (Node 20 here); the CLI
# and the app still work, so keep synth/test output readable. Set the variable yourself to override.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
