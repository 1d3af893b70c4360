"""The docs hold together: every relative link in README.md, docs/, experiments/results/ and CHANGELOG.md
resolves (the file exists; a #anchor names a heading of the target), every config key is documented in
docs/configs.md, and the README stays short."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 250


def config_keys() -> list[str]:
    """Every config key a user can set."""
    from evoproxy.evolve.config import config_keys as keys
    return keys()


def doc_files(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", root / "CHANGELOG.md", *sorted((root / "docs").glob("*.md")),
            *sorted((root / "experiments" / "results").glob("*.md"))]


FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    """The text without fenced blocks and code spans (links are not read inside code)."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, markup dropped, punctuation except - and _ dropped,
    spaces to '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)   # a link in a heading keeps its text
    text = text.lower().replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for h in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        s = slug(h)
        n = seen.get(s, 0)
        out.add(s if n == 0 else f"{s}-{n}")   # GitHub numbers repeated headings
        seen[s] = n + 1
    return out


def broken_links(path: Path) -> list[str]:
    """Each relative link of ``path`` whose file is missing, or whose #anchor is no heading there."""
    problems = []
    for target in LINK.findall(_prose(path.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):   # http:, https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            problems.append(f"{path.name}: {target}: no such file {dest}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{path.name}: {target}: no heading #{anchor} in {dest.name}")
        elif anchor and dest.is_dir():
            problems.append(f"{path.name}: {target}: an anchor into a folder")
    return problems


def test_the_doc_files_exist():
    for path in doc_files():
        assert path.is_file(), path
    assert len(list((ROOT / "docs").glob("*.md"))) >= 10
    assert len(list((ROOT / "experiments" / "results").glob("*.md"))) >= 10


def test_every_relative_link_resolves():
    problems = [p for path in doc_files() for p in broken_links(path)]
    assert not problems, "\n".join(problems)


def test_the_link_checker_reports_a_broken_link(tmp_path):
    (tmp_path / "other.md").write_text("# A heading, with `code`\n\n## Second: part 2\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text("# Page\n\n[fine](other.md#a-heading-with-code) [fine too](other.md#second-part-2) "
                    "[here](#page) [web](https://example.org/x.md)\n"
                    "`[in code](missing.md)`\n\n```\n[in a block](missing.md)\n```\n\n"
                    "[gone](missing.md) [bad anchor](other.md#no-such-heading) [bad here](#nowhere)\n",
                    encoding="utf-8")
    problems = broken_links(page)
    assert len(problems) == 3, problems
    assert "missing.md" in problems[0] and "#no-such-heading" in problems[1] and "#nowhere" in problems[2]


def test_slugs_follow_github():
    assert slug("With MeCo's statistic and spectral ops: single formulas above AZ-NAS") == \
        "with-mecos-statistic-and-spectral-ops-single-formulas-above-az-nas"
    assert slug("Fitness across search spaces (NB201, NB101, NB301)") == "fitness-across-search-spaces-nb201-nb101-nb301"
    assert slug("What a run leaves behind: files, `report`, `runs`, `status`") == \
        "what-a-run-leaves-behind-files-report-runs-status"
    assert slug("Splits: search, selection, final holdout") == "splits-search-selection-final-holdout"


def documented_keys(text: str) -> set[str]:
    return set(re.findall(r"`([a-z_][a-z0-9_]*)`", text))


def test_every_config_key_is_documented():
    documented = documented_keys((ROOT / "docs" / "configs.md").read_text(encoding="utf-8"))
    missing = [k for k in config_keys() if k not in documented]
    assert not missing, f"docs/configs.md does not document: {', '.join(missing)}"
    assert len(config_keys()) > 10


def test_an_undocumented_config_key_is_reported():
    assert "population" in documented_keys("| `population` | `24` | the programs |")
    assert "population" not in documented_keys("the population has 24 programs")


def test_the_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail to docs/"


def test_every_config_section_is_documented():
    from evoproxy.evolve.config import SECTIONS
    text = (ROOT / "docs" / "configs.md").read_text()
    assert [s for s in SECTIONS if f"`[{s}]`" not in text] == []
