"""PEF validation with the real PEF 2008-1 schema, through tests/tools/PefValidate.java (one JVM)."""

from __future__ import annotations

import subprocess
from pathlib import Path

JAVA = Path("/usr/share/java")
JARS = ("brailleUtils-core", "brailleUtils-catalog", "saxonb", "jing", "xercesImpl", "isorelax", "xml-apis")
VALIDATOR = Path(__file__).parent.parent / "tools" / "PefValidate.java"


def validate_pefs(paths: list[Path]) -> dict[str, str]:
    """{path: "VALID" or the validator's report}; fails loudly when Java or brailleutils is missing."""
    missing = [jar for jar in JARS if not (JAVA / f"{jar}.jar").exists()]
    assert not missing, f"Debian brailleutils and its jars are needed: missing {missing}"
    classpath = ":".join(str(JAVA / f"{jar}.jar") for jar in JARS)
    completed = subprocess.run(
        ["java", "-cp", classpath, str(VALIDATOR), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    results: dict[str, str] = {}
    current = None
    for line in completed.stdout.splitlines():
        word, _, path = line.partition(" ")
        if word in {"VALID", "INVALID"} and path in map(str, paths):
            current = path
            results[path] = "VALID" if word == "VALID" else ""
        elif current and results[current] != "VALID":
            results[current] += line + "\n"
    assert set(results) == set(map(str, paths)), completed.stdout[-2000:] + completed.stderr[-2000:]
    return results
