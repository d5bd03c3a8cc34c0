"""The container files agree with each other: the images compose starts by default are the
ones the compose test stands in for, and the base image it makes is the one the image
starts from. A mismatch would test one set and ship another."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _read(path: str) -> str:
    return (ROOT / path).read_text()


def test_the_compose_tests_stand_ins_replace_the_images_compose_starts() -> None:
    compose = dict(re.findall(r"\$\{(\w+_IMAGE):-([^}]+)\}", _read("deploy/compose.yaml")))
    stand_ins = dict(
        re.findall(r"^pick (\w+_IMAGE) (\S+) ", _read("scripts/container/standins.sh"), re.M)
    )
    assert stand_ins == {name: image for name, image in compose.items() if name != "SHOPAPI_IMAGE"}
    assert compose["SHOPAPI_IMAGE"] == "localhost/shopapi:latest"
    assert "MARIADB_IMAGE" in stand_ins


def test_the_local_base_image_is_the_one_every_containerfile_starts_from() -> None:
    base = re.search(r"IMAGE=\$\{BASE_IMAGE:-([^}]+)\}", _read("scripts/container/base-image.sh"))
    assert base is not None
    for containerfile in sorted((ROOT / "deploy").rglob("*Containerfile")):
        for image in re.findall(r"^FROM (\S+)", containerfile.read_text(), re.M):
            assert image == base.group(1), containerfile


def test_every_secret_the_compose_file_mounts_is_one_secrets_sh_writes() -> None:
    mounted = set(
        re.findall(r"/(\w+)\n", re.sub(r"(?s).*\nsecrets:\n", "", _read("deploy/compose.yaml")))
    )
    written = set(re.findall(r"^new (\w+) ", _read("scripts/container/secrets.sh"), re.M))
    assert mounted == written
    assert "jwt_secret_key" in written and "database_url" in written
