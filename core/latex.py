r"""A light LaTeX-to-Unicode pass that keeps model traces legible in a terminal.

Not a TeX renderer: the common commands of maths traces (``\frac``, ``\sqrt``, ``\cdot``, ``\le``,
Greek letters, ``\text{}``, simple super- and subscripts) become their Unicode look-alikes, and
anything unknown is left as written, so nothing of the trace is lost. Plain Python, no UI imports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SYMBOLS: dict[str, str] = {
    "cdot": "·", "times": "×", "div": "÷", "pm": "±", "mp": "∓", "le": "≤", "leq": "≤",
    "ge": "≥", "geq": "≥", "ne": "≠", "neq": "≠", "approx": "≈", "equiv": "≡", "sim": "∼",
    "infty": "∞", "to": "→", "rightarrow": "→", "leftarrow": "←", "Rightarrow": "⇒",
    "implies": "⇒", "iff": "⇔", "Leftrightarrow": "⇔", "in": "∈", "notin": "∉",
    "subset": "⊂", "subseteq": "⊆", "cup": "∪", "cap": "∩", "emptyset": "∅", "forall": "∀",
    "exists": "∃", "sum": "∑", "prod": "∏", "int": "∫", "partial": "∂", "nabla": "∇",
    "angle": "∠", "triangle": "△", "circ": "°", "degree": "°", "perp": "⊥", "parallel": "∥",
    "cdots": "⋯", "ldots": "…", "dots": "…", "therefore": "∴", "because": "∵", "neg": "¬",
    "wedge": "∧", "vee": "∨", "mid": "|", "ast": "∗", "star": "⋆", "prime": "′",
    "lfloor": "⌊", "rfloor": "⌋", "lceil": "⌈", "rceil": "⌉", "langle": "⟨", "rangle": "⟩",
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ",
    "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ",
    "tau": "τ", "upsilon": "υ", "phi": "φ", "varphi": "φ", "chi": "χ", "psi": "ψ",
    "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ",
    "Pi": "Π", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
    "quad": "  ", "qquad": "    ", ",": " ", ";": " ", ":": " ", "!": "", " ": " ",
    "{": "{", "}": "}", "%": "%", "$": "$", "&": "&", "#": "#", "_": "_",
    "left": "", "right": "", "big": "", "Big": "", "bigg": "", "Bigg": "", "displaystyle": "",
    "limits": "", "nonumber": "", "middle": "",
}
#: Commands whose one argument is shown as is (fonts, text, operators).
UNWRAP = {"text", "textbf", "textit", "mathrm", "mathbf", "mathit", "mathbb", "mathcal",
          "operatorname", "mbox", "hbox", "emph", "mathsf", "mathtt", "textrm", "boldsymbol"}
NAMED = {"sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "lim", "max", "min",
         "gcd", "lcm", "det", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "mod",
         "bmod", "pmod", "deg"}
SUPER = str.maketrans("0123456789+-=()n", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿ")
SUB = str.maketrans("0123456789+-=()", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎")
_SUPER_OK = re.compile(r"[0-9+\-=()n]+")
_SUB_OK = re.compile(r"[0-9+\-=()]+")
_CMD = re.compile(r"\\([A-Za-z]+|.)")


def _group(s: str, i: int) -> tuple[str, int]:
    """The argument starting at ``s[i]`` (a braced group or one character) and the end index."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s):
        return "", i
    if s[i] != "{":
        if s[i] == "\\":
            m = _CMD.match(s, i)
            if m:
                return m.group(0), m.end()
        return s[i], i + 1
    depth = 0
    for j in range(i, len(s)):
        if s[j] == "{" and (j == 0 or s[j - 1] != "\\"):
            depth += 1
        elif s[j] == "}" and s[j - 1] != "\\":
            depth -= 1
            if depth == 0:
                return s[i + 1 : j], j + 1
    return s[i + 1 :], len(s)


def _atom(s: str) -> str:
    """``s`` in parentheses unless it is a single token (``12``, ``x``, ``√2``)."""
    return s if re.fullmatch(r"[\w.′²³√π]+|\(.*\)", s) else f"({s})"


def to_unicode(tex: str) -> str:
    r"""Unicode rendering of a piece of LaTeX maths (``\frac{1}{2} \cdot \pi`` -> ``1/2 · π``).

    Args:
        tex: The LaTeX source, without its ``$``/``\[`` delimiters.

    Returns:
        The text with the known commands replaced; unknown commands are kept as written.
    """
    out: list[str] = []
    i, n = 0, len(tex)
    while i < n:
        ch = tex[i]
        if ch == "\\":
            m = _CMD.match(tex, i)
            name = m.group(1) if m else ""
            i = m.end() if m else i + 1
            if name in ("frac", "dfrac", "tfrac"):
                num, i = _group(tex, i)
                den, i = _group(tex, i)
                out.append(f"{_atom(to_unicode(num))}/{_atom(to_unicode(den))}")
            elif name == "sqrt":
                root = ""
                if i < n and tex[i] == "[":
                    end = tex.find("]", i)
                    root, i = (tex[i + 1 : end], end + 1) if end > 0 else ("", i)
                arg, i = _group(tex, i)
                body = to_unicode(arg)
                out.append((root.translate(SUPER) if root else "") + "√" + _atom(body))
            elif name in UNWRAP:
                arg, i = _group(tex, i)
                out.append(to_unicode(arg) if name != "text" else arg)
            elif name == "boxed":
                arg, i = _group(tex, i)
                out.append(f"[{to_unicode(arg)}]")
            elif name in ("overline", "bar"):
                arg, i = _group(tex, i)
                out.append(to_unicode(arg) + "\u0305" if len(arg) == 1 else to_unicode(arg))
            elif name in ("binom", "dbinom"):
                top, i = _group(tex, i)
                bot, i = _group(tex, i)
                out.append(f"C({to_unicode(top)}, {to_unicode(bot)})")
            elif name in SYMBOLS:
                out.append(SYMBOLS[name])
            elif name in NAMED:
                out.append(name)
            elif name == "\\":
                out.append("; ")
            else:
                out.append(m.group(0) if m else "\\")
                if i < n and tex[i] == "{":  # keep an unknown command's argument as written
                    arg, i = _group(tex, i)
                    out.append("{" + arg + "}")
        elif ch in "^_":
            arg, j = _group(tex, i + 1)
            body = to_unicode(arg)
            table, ok = (SUPER, _SUPER_OK) if ch == "^" else (SUB, _SUB_OK)
            if body and ok.fullmatch(body):
                out.append(body.translate(table))
            elif body == "\\circ" or body == "°":
                out.append("°")
            else:
                out.append(ch + _atom(body) if len(body) > 1 else ch + body)
            i = j
        elif ch in "{}":
            i += 1  # grouping braces only
        elif ch == "&":
            i += 1  # alignment
        else:
            out.append(ch)
            i += 1
    return "".join(out)


@dataclass(frozen=True)
class Piece:
    """A run of a trace: ``text`` (prose), ``inline`` or ``display`` maths; ``answer`` marks the
    piece that holds the final ``\\boxed{}``."""

    kind: str
    text: str
    answer: bool = False


_MATH = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\$([^$\n]+?)\$|\\\((.+?)\\\)", re.S)
_ENVS = re.compile(
    r"\\(?:begin|end)\{(?:align|aligned|equation|gather|cases|array)\*?\}(\{[^}]*\})?")


def pieces(text: str, unicode: bool = True, answer_span: tuple[int, int] | None = None,
           ) -> list[Piece]:
    r"""Split a trace into prose and maths, converting the maths when ``unicode`` is true.

    Display maths (``\[...\]``, ``$$...$$``) becomes a piece of its own with its line breaks
    folded, so that it can be set as a wrapped paragraph rather than a line cut at the edge.

    Args:
        text: The completion.
        unicode: Convert LaTeX commands with :func:`to_unicode`; when false the maths is kept
            as written (delimiters included), so that the raw text is exactly the trace.
        answer_span: Offsets of the final answer (usually the last ``\boxed{}``); the piece
            that holds its start is marked.

    Returns:
        The pieces in order; joining their texts in raw mode gives back ``text``.
    """
    out: list[Piece] = []
    last = 0

    def holds(a: int, b: int) -> bool:
        return answer_span is not None and a <= answer_span[0] < b

    def prose(a: int, b: int) -> None:
        # A \boxed{} written outside maths delimiters is maths all the same.
        while a < b:
            start = text.find("\\boxed{", a, b)
            end = _group(text, start + len("\\boxed"))[1] if start >= 0 else -1
            if start < 0 or end > b:
                out.append(Piece("text", text[a:b], holds(a, b)))
                return
            if start > a:
                out.append(Piece("text", text[a:start], holds(a, start)))
            body = text[start:end]
            shown = " ".join(to_unicode(body).split()) if unicode else body
            out.append(Piece("inline", shown, holds(start, end)))
            a = end

    for m in _MATH.finditer(text):
        if m.start() > last:
            prose(last, m.start())
        display = m.group(1) is not None or m.group(2) is not None
        kind = "display" if display else "inline"
        body = m.group(0)
        if unicode:
            inner = next(g for g in m.groups() if g is not None)
            inner = _ENVS.sub("", inner)
            body = " ".join(to_unicode(" ".join(inner.split()) if display else inner).split())
        out.append(Piece(kind, body, holds(m.start(), m.end())))
        last = m.end()
    if last < len(text):
        prose(last, len(text))
    return out


def find_all(text: str, query: str) -> list[int]:
    """Start offsets of every case-insensitive occurrence of ``query`` in ``text``."""
    if not query:
        return []
    hay, needle = text.lower(), query.lower()
    found, i = [], hay.find(needle)
    while i >= 0:
        found.append(i)
        i = hay.find(needle, i + max(len(needle), 1))
    return found
