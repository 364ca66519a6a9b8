"""The fixture packages exist and have the shape Lambda expects (tests/fixtures/build.sh)."""

import io
import stat
import zipfile

import pytest

from conftest import FIXTURES_BUILD, fixture_zip, make_zip

# name -> (files that must be in the package, whether it is a provided.al2023 bootstrap package)
PACKAGES = {
    "rust-echo": (["bootstrap"], True),
    "rust-kinesis": (["bootstrap"], True),
    "python-ric": (["bootstrap", "app.py", "awslambdaric/__main__.py", "awslambdaric/bootstrap.py"], True),
    "node-ric": (["bootstrap", "index.mjs", "node_modules/aws-lambda-ric/bin/index.mjs",
                  "node_modules/aws-lambda-ric/dist/index.mjs",
                  "node_modules/aws-lambda-ric/dist/rapid-client.node"], True),
    "python-echo": (["app.py"], False),
    "node-echo": (["index.mjs"], False),
}


def unix_mode(info: zipfile.ZipInfo) -> int:
    return info.external_attr >> 16


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_fixture_package_shape(name):
    required, is_provided = PACKAGES[name]
    with zipfile.ZipFile(io.BytesIO(fixture_zip(name))) as z:
        assert z.testzip() is None
        infos = {i.filename: i for i in z.infolist()}
        for path in required:
            assert path in infos, f"{name}.zip lacks {path}; it has {sorted(infos)[:20]}"
        if is_provided:
            mode = unix_mode(infos["bootstrap"])
            assert stat.S_ISREG(mode) and mode & 0o111, f"bootstrap mode is {oct(mode)}"
            head = z.read("bootstrap")[:4]
            assert head in (b"\x7fELF",) or head.startswith(b"#!"), head


def test_python_ric_has_its_native_module():
    with zipfile.ZipFile(io.BytesIO(fixture_zip("python-ric"))) as z:
        names = z.namelist()
    assert any(n.startswith("runtime_client.cpython-") and n.endswith(".so") for n in names)


def test_fixture_zips_are_the_only_build_outputs():
    built = sorted(p.name for p in FIXTURES_BUILD.glob("*.zip"))
    assert built == sorted(f"{n}.zip" for n in PACKAGES)


def test_make_zip_sets_modes_and_is_reproducible():
    files = {"bootstrap": "#!/bin/sh\necho hi\n", "lib/data.txt": b"\x00\x01", "tool": "x"}
    a = make_zip(files, modes={"tool": 0o700})
    assert a == make_zip(files, modes={"tool": 0o700})
    with zipfile.ZipFile(io.BytesIO(a)) as z:
        modes = {i.filename: stat.S_IMODE(unix_mode(i)) for i in z.infolist()}
        assert z.read("lib/data.txt") == b"\x00\x01"
    assert modes == {"bootstrap": 0o755, "lib/data.txt": 0o644, "tool": 0o700}
