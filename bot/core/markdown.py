"""Markdown for GitHub: escaping user text, fenced blocks, `<details>` folding, and fitting bodies under
GitHub's limit (65,536 characters for an issue/PR comment or body; 65,535 for a Check Run summary/text).

Bot texts are Jinja2 templates rendered here with `autoescape=False` (they are markdown, not HTML), so
every piece of user-controlled text must pass through `escape_md` (inline) or `code_block` (logs) first.
Templates run in Jinja2's sandbox because a repository may supply its own card template.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from bot.core.markers import find_markers

COMMENT_LIMIT = 65_536
CHECK_RUN_LIMIT = 65_535
TRUNCATED_NOTE = "… truncated, see the CI artifact"
ZWSP = "\u200b"  # zero-width space: breaks a token without changing what a reader sees

# What a user could use to break out of a table cell, open HTML, start a code span, forge a link/image or a
# hidden marker. `\` first so the escapes added later are not themselves escaped.
_INLINE_ESCAPES = (
    ("\\", "\\\\"),
    ("&", "&amp;"),
    ("<", "&lt;"),
    (">", "&gt;"),
    ("|", "\\|"),
    ("`", "\\`"),
    ("[", "\\["),
    ("]", "\\]"),
    ("*", "\\*"),
    ("_", "\\_"),
    ("~", "\\~"),
)
_BARE_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_CODE_SPAN = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)")  # a code span of any fence length
_LINE_BREAKS = re.compile(r"[\r\n\t\f\v\u2028\u2029]+")


def escape_md(value: object, *, max_len: int | None = None) -> str:
    """`value` as inert inline markdown: one line, no HTML, no table breaks, no code spans, no markers.

    An `@login` becomes `@` + zero-width space + `login`, so a PR title cannot ping people on every card edit.
    """
    text = "" if value is None else str(value)
    text = _LINE_BREAKS.sub(" ", text).strip()
    if max_len is not None and len(text) > max_len:
        text = text[: max(1, max_len - 1)] + "…"
    return _escape_inline(text)


def escape_md_keeping_code(value: object, *, max_len: int | None = None) -> str:
    """Like `escape_md`, except that `...` spans stay code spans (rebuilt with `code`, so none can close
    early): the bot's own messages name commands that way ("run `dvc push` by hand")."""
    text = "" if value is None else str(value)
    text = _LINE_BREAKS.sub(" ", text).strip()
    if max_len is not None and len(text) > max_len:
        text = text[: max(1, max_len - 1)] + "…"
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: no spans to keep
        return escape_md(text)
    return "".join(code(part) if i % 2 else _escape_inline(part) for i, part in enumerate(parts))


def _escape_inline(text: str) -> str:
    for raw, escaped in _INLINE_ESCAPES:
        text = text.replace(raw, escaped)
    return _BARE_MENTION.sub("@" + ZWSP, text)


def code(value: object, *, max_len: int | None = None) -> str:
    """`value` as an inline code span that nothing inside can close (e.g. a model name, a sha, a path).

    A code span is closed by a backtick run of its opening length, so the fence is one longer than the
    longest run inside (CommonMark 6.1); `|` still breaks a GFM table cell, so it is replaced by `¦`.
    """
    text = _LINE_BREAKS.sub(" ", "" if value is None else str(value))
    if max_len is not None and len(text) > max_len:
        text = text[: max(1, max_len - 1)] + "…"
    text = text.replace("|", "¦").replace("<!--", "<" + ZWSP + "!--")
    if not text:
        return ""
    fence = "`" * (_longest_run(text, "`") + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def code_block(text: str, lang: str = "") -> str:
    """A fenced block that the text cannot close (fence longer than any backtick run inside) and in
    which a hidden marker cannot be forged."""
    text = text.replace("<!--", "<" + ZWSP + "!--").replace("\r\n", "\n").rstrip("\n")
    fence = "`" * max(3, _longest_run(text, "`") + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def fold(summary: str, body: str, *, open_: bool = False) -> str:
    """A collapsed `<details>` section. `summary` is trusted markdown: escape user text before passing it.
    GitHub renders no markdown inside `<summary>`, so its code spans become `<code>` there."""
    attr = " open" if open_ else ""
    summary = _CODE_SPAN.sub(_html_code, summary)
    return f"<details{attr}><summary>{summary}</summary>\n\n{body.strip(chr(10))}\n\n</details>"


def _html_code(span: re.Match[str]) -> str:
    text = span[2][1:-1] if len(span[1]) > 1 and span[2][:1] == span[2][-1:] == " " else span[2]
    return f"<code>{html.escape(text)}</code>"


def size(text: str) -> int:
    """Length as GitHub may count it: UTF-16 code units, which is never less than code points."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# ---------------------------------------------------------------------------------------------------------
# Fitting under the limit

_DETAILS = re.compile(r"(<details[^>]*>\s*<summary>.*?</summary>\n)(.*?)(\n</details>)", re.S)
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def fit(body: str, limit: int = COMMENT_LIMIT, *, note: str = TRUNCATED_NOTE) -> str:
    """`body` made to fit in `limit`: the largest folded sections are shortened first, each keeping its
    head and a visible note; only when that is not enough is the body itself cut at a line, with every
    hidden marker of the cut part kept at the end. Fences stay balanced."""
    if size(body) <= limit:
        return body
    sections = list(_DETAILS.finditer(body))
    if sections:
        body = _shrink_sections(body, sections, limit, note)
        if size(body) <= limit:
            return body
    return _cut(body, limit, note)


def _shrink_sections(body: str, sections: list[re.Match[str]], limit: int, note: str) -> str:
    excess = size(body) - limit
    inner_sizes = [size(m.group(2)) for m in sections]
    # Lower the biggest sections to a common cap (water-filling) until the excess is absorbed.
    cap = _common_cap(inner_sizes, excess + len(sections) * (len(note) + 16))
    out, pos = [], 0
    for match, inner_size in zip(sections, inner_sizes, strict=True):
        out.append(body[pos : match.start(2)])
        inner = match.group(2)
        if inner_size > cap:
            inner = _truncate_block(inner, max(0, cap), note)
        out.append(inner)
        pos = match.end(2)
    out.append(body[pos:])
    return "".join(out)


def _common_cap(sizes: list[int], excess: int) -> int:
    """The largest cap such that cutting every size above it to it removes at least `excess`."""
    ordered = sorted(sizes, reverse=True)
    removed, count = 0, 0
    for i, current in enumerate(ordered):
        count = i + 1
        nxt = ordered[i + 1] if i + 1 < len(ordered) else 0
        step = (current - nxt) * count
        if removed + step >= excess:
            return current - -(-(excess - removed) // count)  # ceil division
        removed += step
    return 0


def _truncate_block(text: str, budget: int, note: str) -> str:
    """The head of `text` in `budget` characters, cut at a line, fences closed, with the note."""
    head = text[: max(0, budget)]
    if len(head) < len(text):
        head = _at_line(head)
    head = _drop_partial_comment(head)
    closer = _open_fence(head)
    tail = f"\n{closer}" if closer else ""
    return f"{head}{tail}\n\n_{note}_"


def _cut(body: str, limit: int, note: str) -> str:
    reserve = len(note) + 64
    head = body[: max(0, limit - reserve)]
    # Keep the markers of the dropped part: they are how the bot finds this text again.
    kept = [m for m in find_markers(body[len(head) :]) if m not in head]
    reserve_markers = sum(len(m) + 1 for m in kept)
    head = head[: max(0, limit - reserve - reserve_markers)]
    kept = [m for m in find_markers(body[len(head) :]) if m not in head]
    head = _at_line(head)
    head = _drop_partial_comment(head)
    head = _close_details(head)
    closer = _open_fence(head)
    parts = [head, f"\n{closer}" if closer else "", f"\n\n_{note}_\n"]
    parts += [m + "\n" for m in kept]
    return "".join(parts)


def _at_line(head: str) -> str:
    """`head` cut back to its last line break, unless that throws away most of it (a huge one-line log)."""
    cut = head.rfind("\n")
    return head[:cut] if cut >= len(head) * 0.8 else head


def _drop_partial_comment(text: str) -> str:
    """Never leave half a `<!-- ... -->`: a cut inside a marker would make it unfindable or swallow text."""
    start = text.rfind("<!--")
    if start != -1 and text.find("-->", start) == -1:
        return text[:start]
    return text


def _close_details(text: str) -> str:
    depth = len(re.findall(r"<details\b", text)) - len(re.findall(r"</details>", text))
    if depth <= 0:
        return text
    closer = _open_fence(text)
    if closer:
        text += f"\n{closer}"
    return text + "\n\n</details>" * depth


def _open_fence(text: str) -> str:
    """The fence that closes a fenced block left open at the end of `text`, or ""."""
    opening = ""
    for line in text.split("\n"):
        m = _FENCE_OPEN.match(line)
        if not m:
            continue
        run = m.group(1)
        if not opening:
            opening = run
        elif run[0] == opening[0] and len(run) >= len(opening) and not line.strip().strip(run[0]):
            opening = ""
    return opening


def split(body: str, limit: int = COMMENT_LIMIT) -> list[str]:
    """`body` as consecutive parts of at most `limit` characters, cut at lines; a fenced block or a
    `<details>` section crossing a cut is closed at the end of one part and reopened in the next."""
    if size(body) <= limit:
        return [body]
    parts: list[str] = []
    current: list[str] = []
    current_size = 0
    fence = ""
    details: list[str] = []
    reserve = 256  # closers appended to a part and reopeners prepended to the next

    def flush() -> None:
        nonlocal current, current_size
        text = "\n".join(current)
        if fence:
            text += f"\n{fence}"
        text += "\n\n</details>" * len(details)
        parts.append(text)
        reopen = [f"{d}\n" for d in details]
        if fence:
            reopen.append(fence)
        current = [r.rstrip("\n") for r in reopen] if reopen else []
        current_size = sum(size(x) + 1 for x in current)

    for line in _lines_within(body, limit - reserve):
        line_size = size(line) + 1
        if current and current_size + line_size > limit - reserve:
            flush()
        current.append(line)
        current_size += line_size
        fence, details = _track(line, fence, details)
    if current:
        parts.append("\n".join(current))
    return parts


def _lines_within(body: str, width: int) -> list[str]:
    """Lines of `body`, each longer than `width` chopped into pieces (a 1 MB one-line log still splits)."""
    out: list[str] = []
    for line in body.split("\n"):
        while size(line) > width:
            out.append(line[:width])
            line = line[width:]
        out.append(line)
    return out


def _track(line: str, fence: str, details: list[str]) -> tuple[str, list[str]]:
    m = _FENCE_OPEN.match(line)
    if fence:
        if (
            m
            and m.group(1)[0] == fence[0]
            and len(m.group(1)) >= len(fence)
            and not line.strip().strip(fence[0])
        ):
            return "", details
        return fence, details
    if m:
        return m.group(1), details
    opened = re.match(r"\s*(<details[^>]*>\s*<summary>.*?</summary>)", line)
    if opened:
        return fence, [*details, opened.group(1).replace("</summary>", " (continued)</summary>")]
    if line.strip() == "</details>" and details:
        return fence, details[:-1]
    return fence, details


def _longest_run(text: str, ch: str) -> int:
    runs = re.findall(re.escape(ch) + "+", text)
    return max((len(r) for r in runs), default=0)


# ---------------------------------------------------------------------------------------------------------
# Templates


# The largest string, list or number a template expression may build in one step: a repository template
# must not allocate gigabytes before the streamed output bound could see it ("x" * 10**9, "x".center(...)).
MAX_TEMPLATE_VALUE = 1_000_000


class _BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox (no unsafe attributes) that also refuses expressions building huge values."""

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            big = isinstance(left, int | float) and not -1 <= left <= 1
            if big and isinstance(right, int | float) and abs(right) > 64:
                raise TemplateBoundError(f"{left} ** {right} is too large for a template")
            return left**right
        sized = [v for v in (left, right) if isinstance(v, str | bytes | list | tuple)]
        counts = [v for v in (left, right) if isinstance(v, int) and not isinstance(v, bool)]
        if sized and counts and len(sized[0]) * counts[0] > MAX_TEMPLATE_VALUE:
            raise TemplateBoundError(f"a template value over {MAX_TEMPLATE_VALUE:,} items")
        return left * right

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # Jinja's own signature
        numbers = [*args, *kwargs.values()]
        if any(isinstance(n, int) and not isinstance(n, bool) and n > MAX_TEMPLATE_VALUE for n in numbers):
            raise TemplateBoundError(f"a template call with a number over {MAX_TEMPLATE_VALUE:,}")
        return super().call(__context, __obj, *args, **kwargs)


def _bounded_filter(name: str, inner: Any) -> Any:
    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        numbers = [*args, *kwargs.values()]
        if any(isinstance(n, int) and not isinstance(n, bool) and n > MAX_TEMPLATE_VALUE for n in numbers):
            raise TemplateBoundError(f"|{name} with a number over {MAX_TEMPLATE_VALUE:,}")
        return inner(value, *args, **kwargs)

    return bounded


@cache
def _environment() -> SandboxedEnvironment:
    from bot.resources import templates_dir

    env = _BoundedSandbox(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=False,  # markdown, not HTML: user text is escaped with the filters below instead
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )
    env.filters.update(md=escape_md, code=code, code_block=code_block)
    for name in ("center", "indent", "wordwrap", "truncate", "batch", "slice", "random"):
        if name in env.filters:
            env.filters[name] = _bounded_filter(name, env.filters[name])
    env.globals.update(fold=fold)
    return env


def render_template(name: str, context: Mapping[str, Any]) -> str:
    """Render a shipped template (path relative to templates/, e.g. "comments/refused.md.j2")."""
    return _environment().get_template(name).render(**context)


class TemplateBoundError(Exception):
    """A repository template wrote too much, or asked `range()` for too many items."""


def render_text(
    template_text: str,
    context: Mapping[str, Any],
    *,
    max_chars: int | None = None,
    max_range_items: int | None = None,
) -> str:
    """Render a repository's own template text, in the sandbox; shipped templates can be imported.

    The sandbox stops unsafe attribute access, not waste: `max_chars` stops the output as it streams, and
    `max_range_items` is the budget of all `range()` calls of one render together (the sandbox alone allows
    100,000 per call, nested at will). Either raises TemplateBoundError."""
    template = _environment().from_string(template_text)
    extra: dict[str, Any] = {}
    if max_range_items is not None:
        extra["range"] = _budgeted_range(max_range_items)
    parts: list[str] = []
    size = 0
    for chunk in template.generate(**context, **extra):
        size += len(chunk)
        if max_chars is not None and size > max_chars:
            raise TemplateBoundError(f"the template wrote more than {max_chars:,} characters")
        parts.append(chunk)
    return "".join(parts)


def _budgeted_range(budget: int) -> Any:
    left = [budget]

    def bounded_range(*args: int) -> range:
        items = range(*args)
        left[0] -= len(items)
        if left[0] < 0:
            raise TemplateBoundError(f"the template's range() calls ask for more than {budget:,} items")
        return items

    return bounded_range


def squeeze_blank_lines(text: str) -> str:
    """At most one blank line in a row outside fenced blocks: templates with conditionals leave gaps."""
    out: list[str] = []
    fence = ""
    blank = False
    for line in text.split("\n"):
        fence_before = fence
        fence, _ = _track(line, fence, [])
        if not fence_before and not line.strip():
            if blank:
                continue
            blank = True
        else:
            blank = False
        out.append(line)
    return "\n".join(out).strip("\n") + "\n"


def render_macro(template: str, macro: str, context: Mapping[str, Any]) -> str:
    """Call one macro of a shipped template file (several short texts can live in one file)."""
    module = _environment().get_template(template).module
    return str(getattr(module, macro)(**context))
