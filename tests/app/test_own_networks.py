"""docs/extending.md's "Your own networks" works as written: its plugin file, its eval and search commands
(shortened to one generation), and the size check that names the sizes that fit."""
import re
from pathlib import Path

import pytest

from evoproxy.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "extending.md"


def _section() -> str:
    text = DOC.read_text()
    return text[text.index("## Your own networks"):].split("\n## ", 1)[0]


def _plugin(tmp_path: Path) -> Path:
    code = re.search(r"```python\n(.*?)```", _section(), re.DOTALL).group(1)
    (tmp_path / "my_nets.py").write_text(code)
    rows = [f"{w},{d},{50 + 1.3 * w + 2.1 * d + (w * d) % 7}" for w in (4, 6, 8, 10, 12, 14) for d in (1, 2, 3, 4, 5)]
    (tmp_path / "accuracies.csv").write_text("width,depth,accuracy\n" + "\n".join(rows) + "\n")
    return tmp_path / "my_nets.py"


def _documented_sets() -> list[str]:
    command = re.search(r"search --benchmark mynets .*?(--set .*?)\n```", _section(), re.DOTALL).group(1)
    return command.replace("\\\n", " ").split()


@pytest.mark.slow
def test_your_own_networks_as_documented(tmp_path, capsys, one_thread):
    plugin = str(_plugin(tmp_path))
    assert main(["--plugin", plugin, "eval", "--benchmark", "mynets", "--proxy", "params;synflow", "--archs", "30",
                 "--batch-size", "8", "--quiet"]) == 0
    assert "30 architectures of mynets" in capsys.readouterr().out
    assert main(["--plugin", plugin, "search", "--benchmark", "mynets", "--out", str(tmp_path / "big"),
                 "--generations", "1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert " ".join(_documented_sets()) in err and not (tmp_path / "big").exists()
    out = tmp_path / "mine"
    assert main(["--plugin", plugin, "search", "--benchmark", "mynets", "--out", str(out), *_documented_sets(),
                 "--generations", "1", "--population", "8", "--set", "batch_size=8", "--quiet"]) == 0
    assert (out / "run.sqlite").exists()
