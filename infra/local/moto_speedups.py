"""Costs of moto that grow with the local stack's data, removed without changing what it answers.

Profiled on ``make demo`` (py-spy, samples holding the GIL), moto's own work was 58 % of the demo's CPU:

- ``TransactWriteItems`` deep-copies every table it touches, whole, before each transaction, so it can
  restore them if one condition fails: the cost of a transaction grew with the size of the tables (the
  Interactions and CampaignDecisions tables grow with every event). Here the backup is of the items the
  transaction names (and the length of the table's stream), restored the same way on failure: DynamoDB's
  all-or-nothing, at a cost that no longer depends on the table's size.
- Every DynamoDB response was walked member by member against the service model (``ResponseSerializer``,
  20 % of the demo's CPU), although the data-plane results moto builds (``dynamo_to_dict``) are already
  the wire format. For those operations, and DynamoDB Streams' ``GetRecords`` (another 7 % of moto's
  CPU once moto ran in its own process), the result is written as JSON directly;
  ``tests/integration/test_moto_speedups.py`` checks it is the JSON moto's serializer writes.
- An EventBridge rule's target compiled its JSONPath input paths (a PLY parser built from its grammar)
  for every event it delivered; compiled paths are cached now (they are immutable).
- SQS built all of a queue's attributes (three of which count its messages) to read one: for each
  message it considered for delivery (its retention period) and for each message sent (content-based
  deduplication), so receiving and sending cost the square of the queue's length (a scoring run sends
  one message per changed customer through the bus). Attributes are computed when read now.
- ``UpdateItem`` parsed its update expression twice per request (the handler, to check the names and
  values it uses, then the backend): the parsed tree is cached by expression text. Nothing mutates it:
  the backend's validator works on a deep copy (``Validator.__init__``), the handler only reads it.
- A condition (or filter) expression was lexed and parsed for every request. Its parse tree, just
  before moto builds the operators from it, is cached by expression, names and the names of the values
  given (the values themselves only end up in value operands, which read them by name): a request
  builds its operators from the cached tree with its own values (value errors raise there, as in
  moto), each parser still reporting the names and values it found in lists of its own. A miss reuses
  the lexed tokens of the expression text (immutable tuples, fresh child lists). (The first cache was
  keyed by the values too: an UpdateItem's condition on a version or a date, new values every time,
  was parsed for every request.)
- ``UpdateItem``'s validators walked the expression tree rebuilding their processing map (a dict of
  bound methods) at every node: built once per walk now, same order, same first-match rule; which
  processor takes a node (``isinstance`` through ``ABCMeta`` against each key) is answered once per
  node class.
- ``UpdateItem`` deep-copied the parsed update expression for each request (``Validator.__init__``, 7 %
  of moto's CPU in ``make demo``): the tree is copied by a copier that knows its three attributes
  (type, children, parent), the same tree ``deepcopy`` builds, 6× faster; anything else it meets goes
  to ``deepcopy``.
- Three of those validators only check the expression's shape (one clause of each kind, no
  overlapping paths, no path to a key attribute of the table), which depends on the expression, its
  attribute names and the table's key attributes alone: once a (cached) expression passed them with
  given names and keys, they are not run again for it (the other validators, which read the item and
  the values, always run).
- ``Query`` and ``Scan`` deep-copied every item they returned (``Table.query``/``Table.scan``), although
  the handler only reads them to write the response, under the DynamoDB lock (no write in between):
  items are passed by reference now. Projections still build new items (``Item.project``).
- Every request listed its response class's methods (``inspect.getmembers``) to find the operation's;
  the list is cached per class (classes do not change while we run).
- Random strings (every answer's 52-character request id) are drawn in one ``choices`` call, not one
  ``choice`` call per character: same alphabet, length and uniform draw (a seeded moto gives other,
  still deterministic, ids).
- Every answer's body was scanned by a regular expression for a ``<RequestId>`` element to fill in:
  skipped for a body without that text (every JSON answer), where it cannot match.
- A queue's visible messages (``Queue.messages``, which every receive scans) read the clock twice per
  message: once per scan now, the same test against that one time (20 % of moto's CPU in a 10 k-customer
  scoring run, whose campaigns queue grows past 1,000 messages).

- ``UpdateItem`` copies the item before updating it (for its return values and its stream record's old
  image), twice, through ``copy.deepcopy``: an item is copied by a function that knows its shape now
  (:func:`_clone_item`, the same copy).
- A projection (``GetItem``, ``BatchGetItem``, ``Query`` with ``ProjectionExpression``) turned the whole
  item into plain Python once per projected name: for top-level names (the usual projection), only the
  projected attributes are turned, once.
- Building an item summed the sizes of all its attributes so far for each attribute it set (n²/2 size
  walks for n attributes): the running size is kept while it is built, with moto's limit. Measuring a
  value (``DynamoType.size``) re-wrapped every value of a map in a new ``DynamoType`` (and everything
  under it): measured in place now, same sizes.
- Turning a result into plain dicts (``dynamo_to_dict``) tests strings, dicts and lists by exact type
  first (moto asked each value whether it is a datetime, an attribute value or has ``to_json``).
- moto's JSON request parser looks up the handler of a shape type once per type, and a structure's
  members with their JSON names once per shape, not per value.

:func:`install` applies them to this process's moto (idempotent); the local moto server calls it.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

# The data-plane operations whose results are already DynamoDB's wire format (AttributeValue maps).
FAST_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)
# DynamoDB Streams' GetRecords: stream records hold the same AttributeValue maps (the local dispatcher
# reads every record of every table's stream through it).
FAST_STREAM_OPERATIONS = frozenset({"GetRecords"})
_JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.0"}


def _clone_value(value: Any) -> Any:
    """``DynamoType.__deepcopy__`` without the ``copy`` module's dispatch and memo (an attribute value
    is a tree: nothing in it is met twice that a copy would have to keep shared)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if type(value) is not DynamoType or len(value.__dict__) != 2:
        return copy.deepcopy(value)
    new = object.__new__(DynamoType)
    kind, inner = value.type, value.value
    new.type = kind
    if kind == "L":
        new.value = [_clone_value(entry) for entry in inner]
    elif kind == "M":
        new.value = {key: _clone_value(entry) for key, entry in inner.items()}
    elif kind in ("SS", "NS", "BS"):
        new.value = list(inner)
    else:
        new.value = inner
    return new


def _clone_item(item: Any) -> Any:
    """``Item.__deepcopy__`` (its key values and attributes, the size check skipped as moto skips it)
    with :func:`_clone_value` for each value."""
    from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict

    new = object.__new__(Item)
    new.hash_key = _clone_value(item.hash_key)
    new.range_key = None if item.range_key is None else _clone_value(item.range_key)
    attrs = LimitedSizeDict.__new__(LimitedSizeDict)
    for key, value in item.attrs.items():
        dict.__setitem__(attrs, key, _clone_value(value))
    new.attrs = attrs
    return new


class _TablesByReference:
    """Stands in for the ``copy`` module inside ``moto.dynamodb.models`` (and ``moto.dynamodb.responses``):
    a ``Table`` "copied" for a transaction's backup is the table itself (the transaction wrapper keeps
    the items it needs); an ``Item`` (UpdateItem's copy of the item before the update, in the handler
    and in the backend) is copied by :func:`_clone_item`; everything else is deep-copied as before."""

    def __init__(self, table_type: type) -> None:
        from moto.dynamodb.models.dynamo_type import Item

        self._table_type = table_type
        self._item_type = Item

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, self._table_type):
            return value
        if memo is None and type(value) is self._item_type:
            return _clone_item(value)
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


class _ResultsByReference:
    """Stands in for the ``copy`` module inside ``moto.dynamodb.models.table``: an item, or a list of
    items, "copied" for a query's or scan's results is the item itself (a new list); everything else
    (a table's backup, its item dicts) is deep-copied as before."""

    def __init__(self, item_type: type) -> None:
        self._item_type = item_type

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, self._item_type):
            return value
        if isinstance(value, list) and all(isinstance(entry, self._item_type) for entry in value):
            return list(value)
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _item_key(table: Any, operation: dict[str, Any]) -> tuple[Any, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    key = operation.get("Key") or operation.get("Item") or {}
    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def _stored(table: Any, hash_value: Any, range_value: Any) -> Any:
    if range_value is None:
        return table.items.get(hash_value)
    collection = table.items.get(hash_value)
    return None if collection is None else collection.get(range_value)


def _restore(table: Any, hash_value: Any, range_value: Any, item: Any) -> None:
    if range_value is None:
        if item is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = item
        return
    collection = table.items.get(hash_value)
    if item is None:
        if collection is not None:
            collection.pop(range_value, None)
            if not collection:
                table.items.pop(hash_value, None)
    else:
        table.items.setdefault(hash_value, {})[range_value] = item


def _transact_with_item_backup(original: Callable[..., None]) -> Callable[..., None]:
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        backups: list[tuple[Any, Any, Any, Any]] = []
        stream_lengths: dict[int, tuple[Any, int]] = {}
        try:
            for entry in transact_items[:100]:
                operation: dict[str, Any] = next(iter(entry.values()), {})
                table = self.tables.get(operation.get("TableName"))
                if table is None:
                    continue  # no such table: nothing to back up (moto cancels the transaction)
                hash_value, range_value = _item_key(table, operation)
                backups.append(
                    (table, hash_value, range_value, copy.deepcopy(_stored(table, hash_value, range_value)))
                )
                if table.stream_shard is not None:
                    stream_lengths.setdefault(id(table), (table.stream_shard, len(table.stream_shard.items)))
        except (KeyError, TypeError, ValueError, StopIteration):
            backups = []  # a malformed key: moto refuses it while validating, before any write
        try:
            original(self, transact_items)
        except BaseException:
            for table, hash_value, range_value, item in reversed(backups):
                _restore(table, hash_value, range_value, item)
            for shard, length in stream_lengths.values():
                del shard.items[length:]  # the records of writes that were undone
            raise

    transact_write_items.__wrapped__ = original  # type: ignore[attr-defined]
    return transact_write_items


def _wire_value(value: Any) -> Any:
    """Binary attribute values (``B``, ``BS``) are base64 on the wire; timestamps (a stream record's
    ``ApproximateCreationDateTime``) are the epoch seconds moto's JSON serializer writes."""
    from datetime import datetime

    from moto.core.serialize import TimestampSerializer

    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return TimestampSerializer._timestamp_unixtimestamp(value)
    raise TypeError(type(value).__name__)


@functools.cache
def _output_members(service: str, operation: str) -> frozenset[str]:
    from moto.core.utils import get_service_model

    output = get_service_model(service).operation_model(operation).output_shape
    return frozenset(output.members) if output is not None else frozenset()


def _fast_dynamodb_response(
    original: Callable[..., Any], service: str = "dynamodb", operations: frozenset[str] = FAST_OPERATIONS
) -> Callable[..., Any]:
    def serialized(self: Any, action_result: Any) -> Any:
        from moto.core.responses import ActionResult
        from moto.dynamodb.responses import DynamoResult

        result = action_result.result
        if (
            type(action_result) not in (ActionResult, DynamoResult)  # e.g. paginated: moto's own
            or isinstance(result, Exception)
            or self._get_action() not in operations
        ):
            return original(self, action_result)
        members = _output_members(service, self._get_action())
        if isinstance(result, dict):  # moto's serializer writes only the output shape's members
            result = {name: value for name, value in result.items() if name in members}
        try:
            body = json.dumps(result, default=_wire_value)
        except TypeError:  # a value the wire format spells differently: moto's serializer knows it
            return original(self, action_result)
        headers = dict(_JSON_HEADERS)
        headers.update(self.response_headers)
        return 200, headers, body

    serialized.__wrapped__ = original  # type: ignore[attr-defined]
    return serialized


class QueueAttributes(Mapping[str, Any]):
    """A queue's attributes as moto's ``Queue.attributes`` lists them, each computed when read: sending a
    message reads one (``ContentBasedDeduplication``), and moto built them all, counting the queue's
    messages three times, for every message sent."""

    moto_property: Any = None  # moto's own, kept by :func:`install` (the tests compare the two)

    def __init__(self, queue: Any) -> None:
        self._queue = queue
        names = list(queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            names += queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:
            names += queue.KMS_ATTRIBUTES
        self._names = list(dict.fromkeys(names))

    def __getitem__(self, name: str) -> Any:
        from moto.core.utils import camelcase_to_underscores

        if name not in self._names:
            raise KeyError(name)
        queue = self._queue
        if name == "Policy" and queue.policy:
            value = queue.policy
        elif name == "RedrivePolicy" and queue.redrive_policy:
            value = json.dumps(queue.redrive_policy)
        else:
            value = getattr(queue, camelcase_to_underscores(name))
        return str(value).lower() if isinstance(value, bool) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def _plain_dict_attributes(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_queue_attributes(self: Any, *args: Any, **kwargs: Any) -> Any:
        return dict(original(self, *args, **kwargs))

    get_queue_attributes.__wrapped__ = original  # type: ignore[attr-defined]
    return get_queue_attributes


def _retention_from_queue(self: Any, queue_name: str, message: Any) -> bool:
    from moto.core.utils import unix_time

    retention_period = int(self.get_queue(queue_name).message_retention_period)
    return bool(retention_period + message.sent_timestamp / 1000 > unix_time())


def _visible_messages(self: Any) -> list[Any]:
    """moto's ``Queue.messages`` (visible and not delayed), reading the clock once per scan where moto read
    it twice per message (``Message.visible`` and ``Message.delayed``, each ``unix_time_millis()``): a
    receive scans the whole queue, so taking a queue of N messages ten at a time cost N²/5 clock reads."""
    from moto.core.utils import unix_time_millis

    now = unix_time_millis()
    return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]


def _cached_update_expressions(parser: Any) -> Any:
    """``UpdateExpressionParser.make``, cached by expression text (parse errors are not cached: each
    request with a bad expression raises moto's own error again)."""
    original = parser.make.__func__

    @functools.lru_cache(maxsize=1024)
    def parsed(expression: str) -> Any:
        return original(parser, expression)

    def make(cls: Any, expression_str: str) -> Any:
        if cls is not parser or not isinstance(expression_str, str):
            return original(cls, expression_str)
        return parsed(expression_str)

    make.__wrapped__ = original  # type: ignore[attr-defined]
    return classmethod(make)


def _cached_conditions(parser: Any) -> None:
    """Cache ``ConditionExpressionParser.parse`` results and its lexer's tokens (see the docstring)."""
    from collections import deque

    from moto.dynamodb.comparisons import AttributeValue

    original_parse = parser.parse
    original_lex = parser._lex_condition_expression
    original_make_operand = parser._make_operand
    original_make_op_condition = parser._make_op_condition
    kind_value = parser.Kind.EXPRESSION_ATTRIBUTE_VALUE
    attribute_value = AttributeValue
    trees: dict[str, tuple[Any, list[str], list[str]]] = {}
    lexed: dict[str, tuple[Any, ...]] = {}

    def lex(self: Any) -> Any:
        expression = self.condition_expression
        tokens = lexed.get(expression) if isinstance(expression, str) else None
        if tokens is None:
            fresh = original_lex(self)
            if isinstance(expression, str) and all(not node.children for node in fresh):
                if len(lexed) > 4096:
                    lexed.clear()
                lexed[expression] = tuple(fresh)
            return fresh
        return deque(node._replace(children=[]) for node in tokens)

    def make_operand(self: Any, node: Any) -> Any:
        # A value operand reads its value by its name, as the lexer looked it up (``node.value`` is
        # ``expression_attribute_values[node.text]``): a cached tree serves any values.
        if node.kind == kind_value:
            return attribute_value(self.expression_attribute_values[node.text])
        return original_make_operand(self, node)

    def make_op_condition(self: Any, node: Any) -> Any:
        state = self.__dict__
        if "_local_tree" not in state:
            state["_local_tree"] = node  # the first call is parse's, with the whole tree
        return original_make_op_condition(self, node)

    def parse(self: Any) -> Any:
        expression = self.condition_expression
        values = self.expression_attribute_values
        if not isinstance(expression, str) or not expression:
            return original_parse(self)
        try:
            value_names = None if values is None else sorted(values)
            key = repr((expression, self.expression_attribute_names, value_names))
        except Exception:  # unprintable names, values that are no mapping: moto's own parse
            return original_parse(self)
        cached = trees.get(key)
        if cached is None:
            # moto's parse (a bad expression raises here, as in moto, and nothing is cached); its tree
            # just before the operators are built depends on the expression, the names and which
            # values are given, not on the values themselves.
            names_before, values_before = len(self.expr_attr_names_found), len(self.expr_attr_values_found)
            self.__dict__.pop("_local_tree", None)
            op = original_parse(self)
            tree = self.__dict__.pop("_local_tree", None)
            if tree is not None:
                if len(trees) > 4096:
                    trees.clear()
                trees[key] = (
                    tree,
                    self.expr_attr_names_found[names_before:],
                    self.expr_attr_values_found[values_before:],
                )
            return op
        tree, names_found, values_found = cached
        self.expr_attr_names_found.extend(names_found)
        self.expr_attr_values_found.extend(values_found)
        # The operators, built from the tree with this request's values (value errors raise here).
        self.__dict__["_local_tree"] = tree
        try:
            return self._make_op_condition(tree)
        finally:
            self.__dict__.pop("_local_tree", None)

    parse.__wrapped__ = original_parse  # type: ignore[attr-defined]
    lex.__wrapped__ = original_lex  # type: ignore[attr-defined]
    make_operand.__wrapped__ = original_make_operand  # type: ignore[attr-defined]
    make_op_condition.__wrapped__ = original_make_op_condition  # type: ignore[attr-defined]
    parser.parse = parse
    parser._lex_condition_expression = lex
    parser._make_operand = make_operand
    parser._make_op_condition = make_op_condition


def _one_map_per_walk(node_type: Any) -> Callable[[Any, Any], Any]:
    """``DepthFirstTraverser.traverse``: moto's walk, with the processing map built once per walk, and
    its class tests (``isinstance`` through ``ABCMeta``, for every node, by each of ten processors)
    answered once per class: which processor of a map takes a node depends on the node's class alone
    (the first key it is an instance of), and nothing registers virtual subclasses of these classes."""
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser  # type: ignore[attr-defined]

    no_hook = DepthFirstTraverser.pre_processing_of_child
    is_node: dict[type, bool] = {}
    # (map's classes, classes to process) -> node class -> position of its processor in the map (-1:
    # a class to process no key matches: moto's ``process`` returns None then), or None: not processed.
    choices: dict[tuple[Any, ...], dict[type, int | None]] = {}

    def traverse(self: Any, root: Any) -> Any:
        processing = list(self._processing_map().items())
        processors = [processor for _, processor in processing]
        to_process = self.nodes_to_be_processed()
        keys = tuple(class_key for class_key, _ in processing)
        choice = choices.get((keys, to_process))
        if choice is None:
            choice = choices[(keys, to_process)] = {}
        hook = self.pre_processing_of_child
        pre_processing_of_child = None if getattr(hook, "__func__", None) is no_hook else hook

        def choose(cls: type) -> int | None:
            if not issubclass(cls, to_process):
                return None
            return next((i for i, class_key in enumerate(keys) if issubclass(cls, class_key)), -1)

        def walk(node: Any, child_id: int = -1) -> Any:
            cls = type(node)
            node_like = is_node.get(cls)
            if node_like is None:
                node_like = is_node[cls] = isinstance(node, node_type)
            if node_like:
                parent_node = node.parent
                if node.children is not None:
                    for i, child_node in enumerate(node.children):
                        if pre_processing_of_child is not None:
                            pre_processing_of_child(node, i)
                        walk(child_node, i)
                if cls in choice:
                    index = choice[cls]
                else:
                    index = choice[cls] = choose(cls)
                if index is not None:
                    node = processors[index](node) if index >= 0 else None
                    node.parent = parent_node
                    if parent_node:
                        parent_node.children[child_id] = node
            return node

        return walk(root)

    return traverse


def _shape_checks_once(validator: Any, shape_checks: tuple[type, ...]) -> None:
    """Skip ``shape_checks`` (processors that only read the tree) for an expression tree and names that
    passed them before (see the docstring)."""
    original_init, original_validate = validator.__init__, validator.validate
    passed: dict[int, tuple[Any, set[str]]] = {}  # id(tree) -> (tree, names that passed); holds the tree

    def init(self: Any, expression: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, expression, *args, **kwargs)
        self._local_source = expression

    def validate(self: Any) -> Any:
        source = self._local_source
        # (the table's key attributes: a shape check refuses paths that update them)
        names = repr((self.expression_attribute_names, getattr(self.table, "table_key_attrs", None)))
        entry = passed.get(id(source))
        known = entry is not None and entry[0] is source and names in entry[1]
        node = self.node_to_validate
        for processor in self.processors:
            if known and isinstance(processor, shape_checks):
                continue  # these return the node as it is, or raise
            node = processor.traverse(node)
        if not known:
            if len(passed) > 4096:
                passed.clear()
            passed.setdefault(id(source), (source, set()))[1].add(names)
        return node

    init.__wrapped__ = original_init  # type: ignore[attr-defined]
    validate.__wrapped__ = original_validate  # type: ignore[attr-defined]
    validator.__init__ = init
    validator.validate = validate


def _top_level_projection(original: Callable[..., Any]) -> Callable[..., Any]:
    """``Item.project`` for projections of top-level attributes only (``pk, sk, #s``), the common kind:
    moto turned the whole item into plain Python (``to_regular_json``: a deep copy and a deserialisation
    of every attribute) once per projected name, then kept that name's value. Here only the projected
    attributes are turned, once each: the same plain values, merged in the same order (a name met again
    merges a value with itself: no change), serialised back as moto does."""

    def project(self: Any, projection_expressions: list[list[str]]) -> Any:
        from moto.dynamodb.models.dynamo_type import Item, deserializer, serializer

        if not all(len(path) == 1 and "[" not in path[0] for path in projection_expressions):
            return original(self, projection_expressions)
        result: dict[str, Any] = {}
        for (name,) in projection_expressions:
            if name in self.attrs and name not in result:
                result[name] = deserializer.deserialize(self.attrs[name].to_regular_json())
        attrs: dict[str, Any] = serializer.serialize(result)["M"]  # type: ignore[assignment]
        return Item(hash_key=self.hash_key, range_key=self.range_key, attrs=attrs)

    project.__wrapped__ = original  # type: ignore[attr-defined]
    return project


def _fast_size(original: Callable[[Any], int]) -> Callable[[Any], int]:
    """``DynamoType.size`` without re-wrapping: moto measured a map's values as ``DynamoType(v).size()``,
    building a new attribute value (and new ones for everything under it) for each value it measured, on
    every write (``LimitedSizeDict`` measures the whole item for each attribute set) and for each item a
    query or scan returns. The same sizes, measured in place (a value that is not an attribute value
    yet is wrapped as moto wraps it)."""
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import bytesize

    def size(self: Any) -> int:
        kind, value = self.type, self.value
        if kind == "N":
            return len(str(value))
        if kind in ("SS", "NS", "BS"):
            if kind == "NS":
                return sum(len(str(entry)) for entry in value)
            return sum(1 if isinstance(entry, bool) else bytesize(entry) for entry in value)
        if kind == "L":
            return sum(
                size(entry) if type(entry) is DynamoType else DynamoType(entry).size() for entry in value
            )
        if kind == "M":
            return sum(
                bytesize(key) + (size(entry) if type(entry) is DynamoType else DynamoType(entry).size())
                for key, entry in value.items()
            )
        if isinstance(value, bool):
            return 1
        return bytesize(value)

    size.__wrapped__ = original  # type: ignore[attr-defined]
    return size


def _fast_to_dict(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``dynamo_to_dict`` (every DynamoDB result, before it is written) with the common types tested
    first by exact type: a string, number or plain dict or list was tested against ``datetime``,
    ``DynamoType`` and for a ``to_json`` attribute before moto looked at what it is. The same results;
    any other object goes to moto's function."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    scalars = (str, int, float, bool, type(None))

    def to_dict(obj: Any) -> Any:
        kind = type(obj)
        if kind in scalars:
            return obj
        if kind is dict or kind is LimitedSizeDict:  # (no datetime, no DynamoType, no to_json)
            return {key: to_dict(value) for key, value in obj.items()}
        if kind is list:
            return [to_dict(value) for value in obj]
        if kind is DynamoType and obj.type not in ("B", "BS"):
            return {obj.type: to_dict(obj.value)}
        if kind is Item:  # moto: an object with ``to_json``, its JSON turned
            return to_dict(obj.to_json())
        return original(obj)

    to_dict.__wrapped__ = original  # type: ignore[attr-defined]
    return to_dict


def _planned_json_parsing(parser_class: Any) -> None:
    """moto's JSON request parser (``JSONParser``: every JSON-protocol request's body walked against the
    operation's input shape, 6 % of moto's CPU on the demo's requests) with the two lookups it repeated
    for every node kept: which ``_parse_<type>`` method takes a shape type (moto formatted the name and
    looked it up on the parser per node), and a structure's members with their JSON names (moto read
    each member's serialisation per value: an attribute value has ten members). Same members, same
    order, same handlers; nothing else changes."""
    import inspect

    handlers: dict[tuple[type, str], Callable[..., Any]] = {}
    plans: dict[int, tuple[Any, list[tuple[str, str, Any]]]] = {}

    def parse_shape(self: Any, shape: Any, node: Any) -> Any:
        key = (type(self), shape.type_name)
        handler = handlers.get(key)
        if handler is None:
            found = getattr(type(self), f"_parse_{shape.type_name}", None)
            if found is not None and not inspect.isfunction(found):
                return getattr(self, f"_parse_{shape.type_name}")(shape, node)  # (not a plain method)
            handler = handlers[key] = found if found is not None else type(self)._default_handle
        return handler(self, shape, node)

    def parse_structure(self: Any, shape: Any, value: Any) -> Any:
        if shape.is_document_type:
            return value
        if value is None:  # "null" on the wire stays None (moto's rule)
            return None
        entry = plans.get(id(shape))
        if entry is None or entry[0] is not shape:
            members = shape.members
            plan = [(name, members[name].serialization.get("name", name), members[name]) for name in members]
            entry = plans[id(shape)] = (shape, plan)
        final_parsed = self.MAP_TYPE()
        for member_name, json_name, member_shape in entry[1]:
            raw_value = value.get(json_name)
            if raw_value is not None:
                final_parsed[member_name] = self._parse_shape(member_shape, raw_value)
        return final_parsed

    parse_shape.__wrapped__ = parser_class._parse_shape  # type: ignore[attr-defined]
    parse_structure.__wrapped__ = parser_class._parse_structure  # type: ignore[attr-defined]
    parser_class._parse_shape = parse_shape
    parser_class._parse_structure = parse_structure


def _sized_item_init(original: Callable[..., None]) -> Callable[..., None]:
    """``Item.__init__`` with the item size counted as it grows: moto's ``LimitedSizeDict`` sums the size
    of every attribute already set for each one it sets, so building an item of n attributes cost n²/2
    size walks. The same test (the running total over 405,000 bytes: ``ItemSizeTooLarge``, at the same
    attribute) on a fresh dict, attribute by attribute."""

    def init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        from moto.dynamodb.exceptions import ItemSizeTooLarge
        from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
        from moto.dynamodb.models.utilities import bytesize

        self.hash_key = hash_key
        self.range_key = range_key
        self.attrs = LimitedSizeDict()
        total = 0
        for key, value in attrs.items():
            typed = DynamoType(value)
            total += bytesize(key) + typed.size()
            if total > 405000:  # moto's limit (LimitedSizeDict.__setitem__)
                raise ItemSizeTooLarge
            dict.__setitem__(self.attrs, key, typed)

    init.__wrapped__ = original  # type: ignore[attr-defined]
    return init


class _TreeCopyError(Exception):
    """A tree :func:`_tree_copier` leaves to ``copy.deepcopy``."""


def _tree_copier(node_type: type) -> Callable[..., Any]:
    """``copy.deepcopy`` for the module that copies an update expression's tree for each request
    (``Validator.__init__``: 7 % of moto's CPU in ``make demo``). A parsed tree is nodes whose state is
    ``type`` (a str), ``children`` (nodes and str/int/bool leaves) and ``parent`` (a node already met
    on the way down, or None): those are copied here as ``deepcopy`` copies them (same classes, same
    leaves, a node met twice copied once, each parent the copy of its parent), without its generic
    dispatch, memo bookkeeping and ``__reduce_ex__`` per node. Anything else goes to ``copy.deepcopy``."""
    leaves = (str, int, bool, float, type(None))

    def clone(node: Any, memo: dict[int, Any]) -> Any:
        found = memo.get(id(node))
        if found is not None:
            return found
        state = node.__dict__
        if state.keys() != {"type", "children", "parent"} or type(state["type"]) is not str:
            raise _TreeCopyError
        parent = state["parent"]
        if parent is not None:
            parent = memo.get(id(parent))
            if parent is None:  # a parent outside the part copied so far: deepcopy's own order decides
                raise _TreeCopyError
        new = object.__new__(type(node))
        memo[id(node)] = new
        children = state["children"]
        if children is not None:
            if type(children) is not list:
                raise _TreeCopyError
            copied = []
            for child in children:
                if isinstance(child, node_type):
                    copied.append(clone(child, memo))
                elif type(child) in leaves:
                    copied.append(child)
                else:
                    raise _TreeCopyError
            children = copied
        # deepcopy's order: the state dict as it was (type, children, parent).
        new.__dict__.update({"type": state["type"], "children": children, "parent": parent})
        return new

    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        if memo is None and isinstance(value, node_type) and not hasattr(type(value), "__deepcopy__"):
            try:
                return clone(value, {})
            except _TreeCopyError:
                pass
        return copy.deepcopy(value, memo)

    return deepcopy


def _enrich_without_scan(original: Callable[..., Any]) -> Callable[..., Any]:
    """``BaseResponse._enrich_response`` for a body with no ``<RequestId>`` in it (every JSON answer):
    moto ran its request-id substitution, a regular expression with a look-behind for ``<RequestId>``,
    over the whole body of every answer; without that text it cannot match, so the body is returned as
    it is, after the same headers and request id."""

    def enrich(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
        if isinstance(body, str) and "<RequestId>" not in body:
            from moto.core.responses import gen_amzn_requestid_long  # type: ignore[attr-defined]

            if "status" in headers:
                headers["status"] = str(headers["status"])
            gen_amzn_requestid_long(headers)
            return headers, body
        result: tuple[dict[str, str], Any] = original(headers, body)
        return result

    enrich.__wrapped__ = original  # type: ignore[attr-defined]
    return staticmethod(enrich)


def _random_string(self: Any, length: int = 20, include_digits: bool = True, lower_case: bool = False) -> str:
    """``MotoRandom.get_random_string`` (every answer's 52-character request id, message ids...) drawing
    its characters in one ``choices`` call instead of one ``choice`` call each: the same alphabet,
    length and uniform draw from moto's (seedable) random source."""
    import string

    pool = string.ascii_letters + (string.digits if include_digits else "")
    drawn = "".join(self.choices(pool, k=length))
    return drawn.lower() if lower_case else drawn


def _cached_method_names(original: Callable[[Any], list[str]]) -> Callable[[Any], list[str]]:
    cache: dict[Any, list[str]] = {}

    def method_names_from_class(clazz: Any) -> list[str]:
        names = cache.get(clazz)
        if names is None:
            names = cache[clazz] = original(clazz)
        return list(names)  # a fresh list, as moto's

    method_names_from_class.__wrapped__ = original  # type: ignore[attr-defined]
    return method_names_from_class


def install() -> None:
    """Apply the changes to moto in this process (idempotent)."""
    import jsonpath_ng.ext
    import moto.core.responses as core_responses
    import moto.dynamodb.models as dynamodb_models
    import moto.dynamodb.models.table as table_module
    import moto.dynamodb.parsing.validators as validators_module
    import moto.dynamodb.responses as dynamodb_responses
    from moto.core.parse import JSONParser
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node  # type: ignore[attr-defined]
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
    from moto.dynamodb.parsing.validators import (
        ActionCountValidator,
        OverlappingPathsValidator,
        UpdateHashRangeKeyValidator,
        Validator,
    )
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
    from moto.moto_api._internal.moto_random import MotoRandom
    from moto.sqs.models import Queue, SQSBackend

    backend = dynamodb_models.DynamoDBBackend
    if hasattr(backend.transact_write_items, "__wrapped__"):
        return
    dynamodb_models.copy = _TablesByReference(Table)  # type: ignore[attr-defined,assignment]
    dynamodb_responses.copy = _TablesByReference(Table)  # type: ignore[attr-defined,assignment]
    Item.project = _top_level_projection(Item.project)  # type: ignore[method-assign]
    Item.__init__ = _sized_item_init(Item.__init__)  # type: ignore[method-assign]
    _planned_json_parsing(JSONParser)
    DynamoType.size = _fast_size(DynamoType.size)  # type: ignore[method-assign,assignment]
    dynamodb_responses.dynamo_to_dict = _fast_to_dict(dynamodb_responses.dynamo_to_dict)  # type: ignore[assignment,attr-defined]
    table_module.copy = _ResultsByReference(Item)  # type: ignore[assignment,attr-defined]
    backend.transact_write_items = _transact_with_item_backup(backend.transact_write_items)  # type: ignore[method-assign]
    DynamoHandler.serialized = _fast_dynamodb_response(DynamoHandler.serialized)  # type: ignore[method-assign]
    DynamoDBStreamsHandler.serialized = _fast_dynamodb_response(  # type: ignore[method-assign]
        DynamoDBStreamsHandler.serialized, "dynamodbstreams", FAST_STREAM_OPERATIONS
    )
    # moto imports ``parse`` from the module at each call: the cached one is what it finds.
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=512)(jsonpath_ng.ext.parse)  # type: ignore[attr-defined]
    SQSBackend.is_message_valid_based_on_retention_period = _retention_from_queue  # type: ignore[method-assign]
    QueueAttributes.moto_property = Queue.attributes
    Queue.attributes = property(QueueAttributes)  # type: ignore[assignment,method-assign]
    Queue.messages = property(_visible_messages)  # type: ignore[assignment,method-assign]
    SQSBackend.get_queue_attributes = _plain_dict_attributes(SQSBackend.get_queue_attributes)  # type: ignore[method-assign]
    UpdateExpressionParser.make = _cached_update_expressions(UpdateExpressionParser)
    _cached_conditions(ConditionExpressionParser)
    DepthFirstTraverser.traverse = _one_map_per_walk(Node)
    _shape_checks_once(
        Validator, (ActionCountValidator, OverlappingPathsValidator, UpdateHashRangeKeyValidator)
    )
    validators_module.deepcopy = _tree_copier(Node)  # type: ignore[attr-defined]
    MotoRandom.get_random_string = _random_string  # type: ignore[method-assign]
    core_responses.BaseResponse._enrich_response = _enrich_without_scan(  # type: ignore[method-assign]
        core_responses.BaseResponse._enrich_response
    )
    core_responses.method_names_from_class = _cached_method_names(core_responses.method_names_from_class)  # type: ignore[assignment,attr-defined]
