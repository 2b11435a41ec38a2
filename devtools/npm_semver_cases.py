"""Records npm's own answers for SemVer ranges: the table tests/unit/test_semver_range.py checks
chalicelib/domain/semver_range.py against.

Generates random ranges over npm's range grammar (exact versions, partials and wildcards, every
operator, tilde, caret, hyphen ranges, unions, build metadata, pre-releases, and malformed ones
such as ``x.3`` or ``1.2.3 -2``) and random versions, then asks npm's ``semver`` package (installed
into a temporary folder with npm) whether each range is valid and whether the version satisfies it.

    .venv/bin/python -m devtools.npm_semver_cases [--count 3000] [--seed 15] [--semver 7.8.6]

Needs ``node`` and ``npm`` (Debian: nodejs, npm). Never run by the tests: they read the recorded file.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import tempfile
from pathlib import Path

OUTPUT = Path(__file__).resolve().parents[1] / "tests" / "unit" / "data" / "npm-semver-cases.json"
ORACLE = """
const semver = require('semver');
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const answers = cases.map(([range, version]) => {
  if (semver.validRange(range) === null) return null;
  return semver.satisfies(version, range);
});
process.stdout.write(JSON.stringify(answers));
"""
PRERELEASES = ["", "", "", "", "-alpha", "-alpha.1", "-beta", "-beta.2", "-rc.1", "-0", "-1", "-alpha.beta"]
MALFORMED = ["x.3", "*.1.x", "1.x.3", ">=x.1", "1.2.3 -2", "latest", "1.2.3a", "01.2.3", "1.2.3-01", "1.2.", "~",
             ">", "1.2.3 - ", "=>1.2.3", "1..2", "v", "1.2.3.4", "^1.2.3 - 2", "a.b.c"]


class Generator:
    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)

    def number(self) -> str:
        return str(self.rnd.choice([0, 0, 1, 1, 1, 2, 2, 3, 10]))

    def version(self) -> str:
        build = self.rnd.choice(["", "", "", "", "+build.7"])
        return f"{self.number()}.{self.number()}.{self.number()}{self.rnd.choice(PRERELEASES)}{build}"

    def part(self) -> str:
        return self.rnd.choice([self.number(), self.number(), self.number(), "x", "X", "*"])

    def partial(self) -> str:
        count = self.rnd.choice([1, 2, 3, 3, 3, 3])
        parts = [self.part() for _ in range(count)]
        text = ".".join(parts)
        if count == 3:
            text += self.rnd.choice(PRERELEASES) + self.rnd.choice(["", "", "", "", "", "+b.1"])
        return self.rnd.choice(["", "", "", "", "v"]) + text

    def comparator(self) -> str:
        operator = self.rnd.choice(["", "", "=", "^", "^", "~", "~", "~>", ">", ">=", "<", "<="])
        space = " " if operator and self.rnd.random() < 0.1 else ""
        return operator + space + self.partial()

    def comparator_set(self) -> str:
        roll = self.rnd.random()
        if roll < 0.12:
            return f"{self.partial()} - {self.partial()}"
        if roll < 0.15:
            return self.rnd.choice(MALFORMED)
        if roll < 0.17:
            return self.rnd.choice(["", "*", "x", ">=0.0.0", ">=0"])
        return " ".join(self.comparator() for _ in range(self.rnd.choice([1, 1, 1, 2, 2, 3])))

    def range(self) -> str:
        return " || ".join(self.comparator_set() for _ in range(self.rnd.choice([1, 1, 1, 1, 2, 3])))


def ask_npm(cases: list[list[str]], semver_version: str) -> list[bool | None]:
    with tempfile.TemporaryDirectory(prefix="npm-semver-") as folder:
        subprocess.run(["npm", "install", "--prefix", folder, "--no-audit", "--no-fund", "--silent",
                        f"semver@{semver_version}"], check=True)
        (Path(folder) / "oracle.js").write_text(ORACLE)
        answer = subprocess.run(["node", "oracle.js"], cwd=folder, input=json.dumps(cases), capture_output=True,
                                text=True, check=True)
    answers: list[bool | None] = json.loads(answer.stdout)
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--semver", default="7.8.6", help="version of npm's semver package to ask")
    args = parser.parse_args()
    generator = Generator(args.seed)
    cases = [[generator.range(), generator.version()] for _ in range(args.count)]
    answers = ask_npm(cases, args.semver)
    document = {
        "source": f"npm semver {args.semver}: validRange(range) === null -> null, else satisfies(version, range)",
        "generator": f"devtools/npm_semver_cases.py --count {args.count} --seed {args.seed}",
        "cases": [[r, v, a] for (r, v), a in zip(cases, answers, strict=True)],
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    # One case per line: the file stays readable and its diffs small.
    cases_text = ",\n".join(json.dumps(case) for case in document.pop("cases"))
    header = json.dumps(document)[:-1]
    OUTPUT.write_text(f'{header}, "cases": [\n{cases_text}\n]}}\n')
    valid = sum(a is not None for a in answers)
    print(f"{len(cases)} cases ({valid} valid ranges, {sum(a is True for a in answers)} satisfied) -> {OUTPUT}")


if __name__ == "__main__":
    main()
