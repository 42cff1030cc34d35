"""Where a Thai line may break: dictionary-based maximal matching over the
shipped word list (``words/words_th.txt.gz``), constrained by Thai Character
Cluster boundaries.

Thai is written without spaces between words, so a permit's long lines can
only break where a word ends. This is PyThaiNLP's "newmm" segmenter (Apache-2.0;
the TCC rules by Theeramunkong et al. 2000, the code by Korakot Chaovavanich),
ported so the permits keep the same breaks without the 67 MB library: the same
word list, the same cluster rules, the same graph search, and formatted numbers
(``22:00``, ``1,234.5``) rejoined. The words are held in a set and looked up by
prefix length, which needs no trie; loading takes about 30 ms, once.
"""

from __future__ import annotations

import gzip
import re
from collections import defaultdict
from collections.abc import Iterator
from functools import lru_cache
from heapq import heappop, heappush
from importlib import resources

# --- Thai Character Clusters: the places a word may end ----------------------------------
_TCC_RULES = (
    """\
เc็ck
เcctาะk
เccีtยะk
เccีtย(?=[เ-ไก-ฮ]|$)k
เcc็ck
เcิc์ck
เcิtck
เcีtยะ?k
เcืtอะ?k
เc[ิีุู]tย(?=[เ-ไก-ฮ]|$)k
เctา?ะ?k
cัtวะk
c[ัื]tc[ุิะ]?k
c[ิุู]์
c[ะ-ู]tk
cรรc์
c็
ct[ะาำ]?k
ck
แc็c
แcc์
แctะ
แcc็c
แccc์
โctะ
[เ-ไ]ct
ก็
อึ
หึ
""".replace("k", "(cc?[dิ]?[์])?")
    .replace("c", "[ก-ฮ]")
    .replace("t", "[่-๋]?")
    .replace("d", "ูุ")
    .split()
)
_TCC = re.compile("|".join(_TCC_RULES))


def cluster_ends(text: str) -> bytearray:
    """``ends[i]`` is 1 when a Thai Character Cluster ends at position ``i``."""
    ends = bytearray(len(text) + 1)
    pos = 0
    while pos < len(text):
        match = _TCC.match(text, pos)
        pos += match.end() - pos if match else 1
        ends[pos] = 1
    return ends


# --- the word list -----------------------------------------------------------------------
@lru_cache(maxsize=1)
def _dictionary() -> tuple[frozenset[str], int]:
    """The words and the longest word's length (read once per process)."""
    data = resources.files("mailintake.permits").joinpath("words/words_th.txt.gz").read_bytes()
    words = frozenset(filter(None, (line.strip() for line in gzip.decompress(data).decode("utf-8").splitlines())))
    return words, max(map(len, words))


def _prefixes(text: str, start: int) -> list[str]:
    """The dictionary words that begin ``text`` at ``start``, shortest first."""
    words, longest = _dictionary()
    return [text[start:end] for end in range(start + 1, min(len(text), start + longest) + 1) if text[start:end] in words]


# --- maximal matching ----------------------------------------------------------------------
_NON_THAI = re.compile(
    r"""(?x)
[-a-zA-Z]+|                 # Latin letters
\d+([,\.]\d+)*|             # numbers
[ \t]+|                     # spaces
\r?\n|                      # newlines
[^\u0E00-\u0E7F \t\r\n]+    # anything else that is not Thai, up to a space
"""
)
_TWO_CONSONANTS = re.compile("[ก-ฮ]{,2}$")
_FORMATTED_NUMBER = re.compile(r"(\d+[\.\,:])+\d+")
_MAX_GRAPH_SIZE = 50  # an ambiguous stretch longer than this is cut, not searched


def _first_path(graph: dict[int, list[int]], start: int, goal: int) -> list[int]:
    """The first path from ``start`` to ``goal``, breadth first."""
    visited = {start}
    queue = [(start, [start])]
    while queue:
        vertex, path = queue.pop(0)
        for pos in graph[vertex]:
            if pos == goal:
                return [*path, pos]
            if pos not in visited:
                visited.add(pos)
                queue.append((pos, [*path, pos]))
    return [start, goal]


def _skip_unknown(text: str, begin: int, ends: bytearray) -> int:
    """Where a word not in the dictionary, starting at ``begin``, ends."""
    match = _NON_THAI.match(text, begin)
    if match:
        return match.end()
    for pos in range(begin + 1, len(text)):
        if ends[pos]:
            if any(ends[pos + len(w)] and not _TWO_CONSONANTS.match(w) for w in _prefixes(text, pos)):
                return pos
            if _NON_THAI.match(text, pos):
                return pos
    return len(text)


def _segments(text: str) -> Iterator[str]:
    graph: dict[int, list[int]] = defaultdict(list)
    graph_size = 0
    ends = cluster_ends(text)
    candidates = [0]  # a heap of positions where a word may begin
    end = 0
    while candidates[0] < len(text):
        begin = heappop(candidates)
        for word in _prefixes(text, begin):
            stop = begin + len(word)
            if ends[stop]:
                graph[begin].append(stop)
                graph_size += 1
                if stop not in candidates:
                    heappush(candidates, stop)
                if graph_size > _MAX_GRAPH_SIZE:
                    break
        if len(candidates) == 1:  # one way on: the words up to it are settled
            for pos in _first_path(graph, end, candidates[0])[1:]:
                yield text[end:pos]
                end = pos
            graph_size = 0
            graph.clear()
        elif not candidates:  # no word here: take the unknown stretch as one
            end = _skip_unknown(text, begin, ends)
            graph_size = 0
            graph.clear()
            yield text[begin:end]
            heappush(candidates, end)


def _rejoin_numbers(tokens: list[str]) -> list[str]:
    """``12``, ``:``, ``00`` back into ``12:00``: a number never breaks."""
    joined: list[str] = []
    pos = i = 0
    for match in _FORMATTED_NUMBER.finditer("".join(tokens)):
        while i < len(tokens) and pos < match.start():  # the tokens before the number
            joined.append(tokens[i])
            pos += len(tokens[i])
            i += 1
        number = ""
        while i < len(tokens) and pos < match.end():  # the tokens that make it up
            number += tokens[i]
            pos += len(tokens[i])
            i += 1
        if number:
            joined.append(number)
    return joined + tokens[i:]


def words(text: str) -> list[str]:
    """``text`` cut into words, spaces kept as their own tokens: joined they
    give ``text`` back. The same cuts as PyThaiNLP's
    ``word_tokenize(text, engine="newmm", keep_whitespace=True)``."""
    return _rejoin_numbers(list(_segments(text))) if text else []


def _is_thai_or_space(char: str) -> bool:
    return char.isspace() or "\u0e00" <= char <= "\u0e7f"


def break_units(text: str) -> list[str]:
    """The pieces a line may break between: the words, except that two
    pieces with no Thai letter or space between them stay together (the
    segmenter cuts ``permit's`` before the apostrophe; a line must not)."""
    units: list[str] = []
    for token in words(text):
        if units and not _is_thai_or_space(units[-1][-1]) and not _is_thai_or_space(token[0]):
            units[-1] += token
        else:
            units.append(token)
    return units
