"""Vendor Apache ECharts without Node: the tarball package-lock.json pins, checked, into static/vendor/.

`make vendor` uses npm when it is installed and this script otherwise. It reads the locked version,
`resolved` URL (absent when npm was told to omit it: then the tarball's usual place on the
registry) and `integrity` (sha512) of echarts from package-lock.json; downloads the tarball with
urllib, which honours HTTPS_PROXY/HTTP_PROXY/NO_PROXY; takes the registry and CA file npm itself
would use (npm_config_registry, then the project's, the user's and the global .npmrc); refuses a
tarball whose digest differs; and writes package/dist/echarts.min.js atomically.

    python3 tools/vendor_echarts.py [--lock package-lock.json] [--out static/vendor/echarts.min.js]
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import ssl
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "echarts"
MEMBER = "package/dist/echarts.min.js"
DEFAULT_REGISTRY = "https://registry.npmjs.org/"
MAX_TARBALL = 200 * 1024 * 1024


def locked(lock_path: Path, name: str = PACKAGE) -> dict:
    """version, resolved (maybe None) and integrity of `name` in an npm v2/v3 lock file."""
    lock = json.loads(lock_path.read_text(encoding="utf-8"))
    entry = (lock.get("packages") or {}).get(f"node_modules/{name}") or (lock.get("dependencies") or {}).get(name)
    if not entry or not entry.get("version") or not entry.get("integrity"):
        raise SystemExit(f"{lock_path} 中没有 {name} 的锁定版本和 integrity")
    return {"version": entry["version"], "resolved": entry.get("resolved"), "integrity": entry["integrity"]}


def npmrc_settings(project: Path = ROOT) -> dict[str, str]:
    """The npm settings that matter here (registry, cafile), by npm's own precedence: environment,
    then the project's, the user's, the global and the built-in npmrc."""
    files = [project / ".npmrc", Path(os.environ.get("npm_config_userconfig") or Path.home() / ".npmrc"),
             Path(os.environ.get("npm_config_globalconfig") or "/etc/npmrc"), Path("/usr/etc/npmrc")]
    found: dict[str, str] = {}
    for path in reversed(files):  # later files are weaker: read them first and let stronger ones override
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            key, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith(("#", ";")):
                found[key.strip().lower()] = value.strip().strip('"')
    for key in ("registry", "cafile"):
        value = os.environ.get(f"npm_config_{key}") or os.environ.get(f"NPM_CONFIG_{key.upper()}")
        if value:
            found[key] = value
    return found


def tarball_url(entry: dict, registry: str, name: str = PACKAGE) -> str:
    if (entry.get("resolved") or "").startswith(("https://", "http://")):
        return entry["resolved"]
    return f"{registry.rstrip('/')}/{name}/-/{name.rsplit('/', 1)[-1]}-{entry['version']}.tgz"


def check_integrity(data: bytes, integrity: str) -> None:
    """Subresource-integrity check: any one of the listed sha512/sha384/sha256 digests must match."""
    for item in integrity.split():
        algorithm, _, expected = item.partition("-")
        if algorithm in ("sha512", "sha384", "sha256"):
            if base64.b64encode(hashlib.new(algorithm, data).digest()).decode() == expected:
                return
            raise SystemExit(f"完整性校验失败：下载的压缩包 {algorithm} 与 package-lock.json 记录的不一致，已放弃")
    raise SystemExit(f"integrity 中没有可用的摘要：{integrity!r}")


def download(url: str, cafile: str | None, timeout: float = 120) -> bytes:
    context = ssl.create_default_context(cafile=cafile if cafile and Path(cafile).is_file() else None)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler(), urllib.request.HTTPSHandler(context=context))
    request = urllib.request.Request(url, headers={"User-Agent": "kjback-vendor (urllib)", "Accept": "application/octet-stream"})
    with opener.open(request, timeout=timeout) as response:
        data = response.read(MAX_TARBALL + 1)
    if len(data) > MAX_TARBALL:
        raise SystemExit(f"{url} 超过 {MAX_TARBALL // 1024 // 1024} MB，已放弃")
    return data


def extract(data: bytes, member: str = MEMBER) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        try:
            info = tar.getmember(member)
        except KeyError:
            raise SystemExit(f"压缩包中没有 {member}") from None
        if not info.isfile():
            raise SystemExit(f"压缩包中的 {member} 不是普通文件")
        return tar.extractfile(info).read()


def write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(content)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=ROOT / "package-lock.json")
    parser.add_argument("--out", type=Path, default=ROOT / "static" / "vendor" / "echarts.min.js")
    args = parser.parse_args(argv)
    entry = locked(args.lock)
    settings = npmrc_settings()
    url = tarball_url(entry, settings.get("registry") or DEFAULT_REGISTRY)
    cafile = settings.get("cafile") or os.environ.get("SSL_CERT_FILE")
    try:
        data = download(url, cafile)
    except OSError as exc:  # URLError, timeouts, refused connections
        print(f"无法下载 {url}：{exc}（检查网络、HTTPS_PROXY 或 npm_config_registry）", file=sys.stderr)
        return 1
    check_integrity(data, entry["integrity"])
    write_atomically(args.out, extract(data))
    out = args.out.resolve()
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"ECharts {entry['version']} 已通过 sha512 校验 → {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
