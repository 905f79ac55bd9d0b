"""Issue 7: fuzz conditions.protocol.load_protocol with damaged protocol files (hypothesis).

Random bytes, byte-level damage to the shipped protocol.toml, and value-level damage
(one ``key = value`` replaced by a value of another type or range). Only SootheError
subclasses (ProtocolError) may escape. Long run: ``SOOTHE_FUZZ_SCALE=20``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from fuzz_mutations import budget, mutated
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from conditions.errors import SootheError
from conditions.protocol import Protocol, default_protocol_path, load_protocol

RAN: Counter[str] = Counter()
SOURCE = default_protocol_path()
ORIGINAL = SOURCE.read_bytes()
WORK = Path(tempfile.mkdtemp(prefix="soothe-fuzz-protocol-"))
# the protocol's relative files (scripts, questionnaires) sit beside the fuzzed copy;
# the audio (large) is linked, not copied
for sub in ("scripts", "questionnaires"):
    shutil.copytree(SOURCE.parent / sub, WORK / sub)
if (SOURCE.parent / "audio").is_dir():
    (WORK / "audio").symlink_to(SOURCE.parent / "audio", target_is_directory=True)
TARGET = WORK / "protocol.toml"
ASSIGNMENTS = [m for m in re.finditer(rb"(?m)^(\s*[A-Za-z_][\w.]*\s*=\s*)(.+)$", ORIGINAL)]

SCRIPT = next(i for i, m in enumerate(ASSIGNMENTS) if m.group(1).strip().startswith(b"script"))

QFILE = next(i for i, m in enumerate(ASSIGNMENTS) if m.group(1).strip().startswith(b"file"))

SETTINGS = dict(deadline=None, database=None, phases=(Phase.explicit, Phase.generate),
                # the same cases every CI run; exploratory runs use fresh randomness
                derandomize=os.environ.get("CI", "").lower() in ("1", "true", "yes"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

TOML_VALUES = st.sampled_from([
    b"0", b"-1", b"-300", b"1e309", b"nan", b"inf", b"256", b"9999999999999999999999",
    b"1.5", b'""', b'"kindness_self"', b'"nonexistent/file.csv"', b'"../../etc/passwd"',
    b"true", b"[]", b"[1, 1, 1]", b'["a", 2]', b"{}", b"{ a = 1 }", b"1979-05-27",
    b'"\\u0000"', b'"x"', b'"' + b"a" * 300 + b'"',
])


def _attempt(target: str, data: bytes, *, check_audio: bool = False) -> None:
    RAN[target] += 1
    TARGET.write_bytes(data)
    try:
        protocol = load_protocol(TARGET, check_audio=check_audio)
    except SootheError as exc:
        # the message names the file at fault: the protocol, or a file it points to
        assert getattr(exc, "file", "") or "protocol.toml" in str(exc), str(exc)
        return
    assert isinstance(protocol, Protocol)


def test_shipped_protocol_loads_from_the_copy():
    _attempt("baseline", ORIGINAL)
    assert isinstance(load_protocol(TARGET), Protocol)


@settings(max_examples=budget(60), **SETTINGS)
@given(data=st.binary(max_size=512))
def test_random_bytes(data):
    _attempt("random bytes", data)


@settings(max_examples=budget(120), **SETTINGS)
@given(data=mutated(ORIGINAL))
def test_byte_damage(data):
    _attempt("byte damage", data)


@settings(max_examples=budget(150), **SETTINGS)
@given(which=st.integers(0, len(ASSIGNMENTS) - 1), value=TOML_VALUES,
       check_audio=st.booleans())
@example(which=SCRIPT, value=b'"\\u0000"', check_audio=False)  # found by this fuzzer
@example(which=SCRIPT, value=b'"' + b"a" * 300 + b'"', check_audio=False)
@example(which=QFILE, value=b'"../../etc/passwd"', check_audio=False)
def test_value_damage(which, value, check_audio):
    m = ASSIGNMENTS[which]
    data = ORIGINAL[: m.start(2)] + value + ORIGINAL[m.end(2):]
    _attempt("value damage", data, check_audio=check_audio)


@settings(max_examples=budget(60), **SETTINGS)
@given(drop=st.lists(st.integers(0, ORIGINAL.count(b"\n")), min_size=1, max_size=6))
def test_deleted_lines(drop):
    lines = ORIGINAL.split(b"\n")
    _attempt("deleted lines", b"\n".join(x for i, x in enumerate(lines) if i not in set(drop)))


def test_report_fuzz_counts():
    """Runs last in this file: how many protocol cases ran (use -s to see)."""
    print(f"\nfuzz load_protocol: {sum(RAN.values())} cases " +
          ", ".join(f"{k}={v}" for k, v in sorted(RAN.items())))
    assert sum(RAN.values()) > 0
