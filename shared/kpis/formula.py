"""The KPI formula language: arithmetic over metric keys, parsed by our own parser (never `eval`).

Grammar (whitespace between tokens is ignored):

    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := ("+" | "-") unary | primary
    primary := NUMBER | METRIC | "(" expr ")"
    NUMBER  := digit+ ("." digit+)?          e.g. 100, 0.5
    METRIC  := [a-z][a-z0-9_]*               e.g. spend, new_customers

Evaluation is in Decimal. A missing metric value or a division by zero gives no value (None), never an
error: a KPI over a window with no clicks simply has no CPC.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

MAX_LENGTH = 500
MAX_DEPTH = 40
_TOKEN = re.compile(r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<metric>[a-z][a-z0-9_]*)|(?P<op>[-+*/()]))")


class FormulaError(ValueError):
    """A formula that does not parse; `position` is the 0-based character where it went wrong."""

    def __init__(self, message: str, position: int | None = None):
        super().__init__(message if position is None else f"{message} (at character {position + 1})")
        self.position = position


@dataclass(frozen=True)
class Num:
    value: Decimal


@dataclass(frozen=True)
class Metric:
    key: str


@dataclass(frozen=True)
class Neg:
    operand: "Node"


@dataclass(frozen=True)
class BinOp:
    op: str
    left: "Node"
    right: "Node"


Node = Num | Metric | Neg | BinOp
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


@dataclass(frozen=True)
class Formula:
    """A parsed formula: its tree, the metrics it reads, and how to compute it."""

    tree: Node

    @property
    def metrics(self) -> frozenset[str]:
        return frozenset(_metrics(self.tree))

    def evaluate(self, values: Mapping[str, Decimal | None]) -> Decimal | None:
        """The formula's value for these metric values; None when a metric has no value or a divisor is 0."""
        return _evaluate(self.tree, values)

    def render(self) -> str:
        """Canonical text: parsing it gives the same tree."""
        return _render(self.tree, 0)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            bad = len(text[pos:]) - len(text[pos:].lstrip()) + pos
            raise FormulaError(f"unexpected character {text[bad]!r}", bad)
        kind = m.lastgroup
        assert kind is not None  # every alternative of _TOKEN is a named group
        start = m.start(kind)
        tokens.append((kind, m.group(kind), start))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _take(self) -> tuple[str, str, int]:
        token = self._peek()
        if token is None:
            raise FormulaError("the formula ends too early", len(self.text))
        self.i += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise FormulaError("the formula is empty")
        node = self._expr(0)
        extra = self._peek()
        if extra is not None:
            raise FormulaError(f"unexpected {extra[1]!r}", extra[2])
        return node

    def _expr(self, depth: int) -> Node:
        node = self._term(depth)
        while (token := self._peek()) is not None and token[1] in ("+", "-") and token[0] == "op":
            self.i += 1
            node = BinOp(token[1], node, self._term(depth))
        return node

    def _term(self, depth: int) -> Node:
        node = self._unary(depth)
        while (token := self._peek()) is not None and token[1] in ("*", "/") and token[0] == "op":
            self.i += 1
            node = BinOp(token[1], node, self._unary(depth))
        return node

    def _unary(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise FormulaError(f"the formula nests deeper than {MAX_DEPTH} levels", self._position())
        token = self._peek()
        if token is not None and token[0] == "op" and token[1] in ("+", "-"):
            self.i += 1
            operand = self._unary(depth + 1)
            return Neg(operand) if token[1] == "-" else operand
        return self._primary(depth)

    def _primary(self, depth: int) -> Node:
        kind, value, pos = self._take()
        if kind == "number":
            return Num(Decimal(value))
        if kind == "metric":
            return Metric(value)
        if value == "(":
            node = self._expr(depth + 1)
            closing = self._peek()
            if closing is None or closing[1] != ")":
                raise FormulaError("a '(' is never closed", pos)
            self.i += 1
            return node
        raise FormulaError(f"expected a number, a metric or '(' but found {value!r}", pos)

    def _position(self) -> int:
        token = self._peek()
        return token[2] if token else len(self.text)


def parse_formula(text: str) -> Formula:
    """Parse a formula; raises FormulaError (and nothing else) for anything that is not one."""
    if not isinstance(text, str):
        raise FormulaError("the formula must be text")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"the formula is longer than {MAX_LENGTH} characters")
    return Formula(_Parser(text).parse())


def _metrics(node: Node):
    if isinstance(node, Metric):
        yield node.key
    elif isinstance(node, Neg):
        yield from _metrics(node.operand)
    elif isinstance(node, BinOp):
        yield from _metrics(node.left)
        yield from _metrics(node.right)


def _evaluate(node: Node, values: Mapping[str, Decimal | None]) -> Decimal | None:
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Metric):
        value = values.get(node.key)
        return None if value is None else Decimal(value)
    if isinstance(node, Neg):
        inner = _evaluate(node.operand, values)
        return None if inner is None else -inner
    left, right = _evaluate(node.left, values), _evaluate(node.right, values)
    if left is None or right is None:
        return None
    try:
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        return None if right == 0 else left / right
    except ArithmeticError:  # decimal overflow and friends: no value, like a division by zero
        return None


def _render(node: Node, parent_precedence: int) -> str:
    if isinstance(node, Num):
        text = format(node.value, "f")
        return text
    if isinstance(node, Metric):
        return node.key
    if isinstance(node, Neg):
        return f"-{_render(node.operand, 3)}"
    precedence = _PRECEDENCE[node.op]
    # The right operand of - and / needs brackets at equal precedence: a - (b - c) is not a - b - c.
    right_floor = precedence + 1
    text = f"{_render(node.left, precedence)} {node.op} {_render(node.right, right_floor)}"
    return f"({text})" if precedence < parent_precedence else text
