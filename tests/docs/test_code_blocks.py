"""Every code block in the documentation is executed or checked, against a real platform.

- ``python``: executed, page by page in the nav's order, each page in one namespace (a later block
  may use an earlier one's variables), in one working directory holding the candle files the
  pages name, against a live platform on loopback with real BTC/ETH/SOL 1h candles. The only
  changes are placeholders (``"ak_live_..."`` -> a real key, example run ids -> real run ids) and
  step counts (``total_timesteps``, ``n_steps``, ``n_episodes``) made tiny. A block that is only
  an include of an example script (``--8<-- "examples/x.py"``) is run by ``tests/examples``.
- ``bash``: every command is checked: ``tradeready`` subcommands and options against the CLI's
  own command tree, ``python -m`` modules importable, paths present, ``TRADEREADY_*`` variables
  known; ``curl`` and ``sqlite3`` commands are executed against the live platform.
- ``http``: each request is sent to the live platform; the ``json`` blocks after it must have the
  same shape as the real answer (same keys at every level, compatible types).
- ``nginx``: structure, upstream ports that ``tradeready serve`` commands of the page use,
  buffering off for server-sent events, and a body limit not below the platform's.
- The training-tracking guide's samples appear verbatim on the training-tracking page.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer.main

from agentexchange import AgentExchangeClient
from tests.docs.markdown_blocks import DOCS, ROOT, Block, code_blocks, nav_pages
from tests.support.platform import AccountKey, LiveServer, create_account, sqlite_settings
from tests.support.shared_data import MARKET, SEED
from tradeready.cli.main import app as cli_app
from tradeready.server.settings import Settings

CANDLE_FILES = [MARKET / f"{symbol}-1h.csv" for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT")]
LANGUAGES = {"python", "bash", "http", "json", "nginx"}
EXTERNAL_TOOLS = {"createdb", "pg_dump", "pg_restore", "psql"}
PLACEHOLDER_RUNS = ("run_abc123", "run_def456", "run_ghi789")
PLACEHOLDER_RUNS_BY_NAME = ("run_ppo_v1", "run_dqn_v1")


def all_blocks() -> list[Block]:
    return [b for page in nav_pages() if (DOCS / page).is_file() for b in code_blocks(DOCS / page)]


# --- static checks (no platform) -----------------------------------------------------------------


def test_every_block_has_a_checked_language() -> None:
    blocks = all_blocks()
    assert len(blocks) >= 40
    unchecked = [f"{b.where} ({b.lang or 'no language'})" for b in blocks if b.lang not in LANGUAGES]
    assert not unchecked, f"blocks no test runs or checks: {unchecked}"


def test_every_json_block_follows_an_http_request() -> None:
    for page in nav_pages():
        if not (DOCS / page).is_file():
            continue
        previous: Block | None = None
        for block in code_blocks(DOCS / page):
            if block.lang == "json":
                assert previous is not None and previous.lang in {"http", "json"}, block.where
            previous = block


def _seed_code_samples() -> list[list[str]]:
    """The guide's code samples as lists of stripped lines (the guide's text has lost indentation)."""
    lines = [line.strip() for line in SEED.read_text(encoding="utf-8").splitlines()]
    samples: list[list[str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(("GET /api/v1/", "POST /api/v1/")) and len(line.split()) == 2:
            samples.append([line])
        elif line == "{":  # a JSON sample: up to the line that closes it
            for j in range(i + 1, len(lines)):
                try:
                    json.loads("\n".join(lines[i : j + 1]))
                except ValueError:
                    continue
                samples.append(lines[i : j + 1])
                i = j
                break
        elif line.startswith(("env = gym.make(", "from agentexchange import", "import gymnasium as gym")):
            end = "env.close()" if line.startswith("import gymnasium") else None
            j = i + 1
            while j < len(lines) and lines[j] != (end or ")"):  # a call's closing line, or the loop's last
                j += 1
            samples.append(lines[i : j + 1])
            i = j
        i += 1
    return samples


def _normalised(code: str) -> list[str]:
    return [line.strip() for line in code.splitlines() if line.strip()]


def test_the_guides_samples_appear_verbatim_on_the_tracking_page() -> None:
    samples = _seed_code_samples()
    assert len(samples) == 10  # 2 gym.make, 4 requests, 2 JSON answers, the SDK, the full loop
    page = [line for b in code_blocks(DOCS / "tracking.md") for line in _normalised(b.code)]
    text = "\n".join(page)
    for sample in samples:
        if sample[0] == "{":
            body = json.loads("\n".join(sample))
            blocks = [json.loads(b.code) for b in code_blocks(DOCS / "tracking.md") if b.lang == "json"]
            assert body in blocks, sample
            continue
        wanted = "\n".join(line for line in sample if line)
        assert wanted in text, "\n".join(sample)


# --- the CLI ---------------------------------------------------------------------------------------


def _is_group(command: Any) -> bool:
    return isinstance(getattr(command, "commands", None), dict)


def _params(command: Any, kind: str) -> list[Any]:
    """The command's options or arguments (``kind``: "option" or "argument")."""
    return [p for p in command.params if p.param_type_name == kind]


def _check_tradeready(tokens: list[str], where: str) -> None:
    command: Any = typer.main.get_command(cli_app)  # typer vendors click: duck-typed below
    path = ["tradeready"]
    positionals: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("-"):
            name = token.split("=", 1)[0]
            options = {opt: p for p in _params(command, "option") for opt in (*p.opts, *p.secondary_opts)}
            assert name in options or name == "--help", f"{where}: `{' '.join(path)}` has no option {name}"
            param = options.get(name)
            if param is not None and not param.is_flag and "=" not in token:
                i += 1  # the option's value
                assert i < len(tokens), f"{where}: {name} needs a value"
        elif _is_group(command) and not positionals:
            sub = command.commands.get(token)
            assert sub is not None, f"{where}: `{' '.join(path)}` has no subcommand {token!r}"
            command = sub
            path.append(token)
        else:
            positionals.append(token)
        i += 1
    assert not _is_group(command), f"{where}: `{' '.join(path)}` needs a subcommand"
    arguments = _params(command, "argument")
    unlimited = any(p.nargs == -1 for p in arguments)
    assert unlimited or len(positionals) <= len(arguments), f"{where}: too many arguments for {' '.join(path)}"
    required = sum(1 for p in arguments if p.required)
    assert len(positionals) >= min(required, 1 if unlimited else required), f"{where}: {' '.join(path)} needs arguments"


def _known_variable(name: str) -> bool:
    if not name.startswith("TRADEREADY_"):
        return False
    if name.removeprefix("TRADEREADY_").lower() in Settings.model_fields:
        return True
    sources = [*ROOT.glob("packages/*/src/**/*.py")]
    return any(name in path.read_text(encoding="utf-8") for path in sources)


def _lines(code: str) -> Iterator[tuple[str, list[list[str]]]]:
    """Each line of a shell block (continuations joined) with its simple commands (split on && ; & |)."""
    for line in code.replace("\\\n", " ").splitlines():
        commands: list[list[str]] = []
        current: list[str] = []
        for token in shlex.split(line, comments=True):
            if token in {"&&", ";", "&", "|", "||"}:
                if current:
                    commands.append(current)
                current = []
            elif token.endswith(("&", ";")):
                current.append(token[:-1])
                commands.append(current)
                current = []
            else:
                current.append(token)
        if current:
            commands.append(current)
        if commands:
            yield line, commands


def _commands(code: str) -> Iterator[list[str]]:
    for _, commands in _lines(code):
        yield from commands


@dataclass
class ShellContext:
    platform: Platform | None
    page_text: str
    cwd: Path


def _check_pip(args: list[str], where: str) -> None:
    assert args[0] == "install", where
    for arg in args[1:]:
        if arg != "-e":
            assert (ROOT / re.sub(r"\[.*\]$", "", arg)).is_dir(), f"{where}: no package folder {arg}"


def _check_external(cmd: str, args: list[str], where: str) -> None:
    """A PostgreSQL client tool: installed, and every long option it is given exists."""
    assert shutil.which(cmd), f"{where}: {cmd} is not installed here, cannot check it"
    help_text = subprocess.run([cmd, "--help"], capture_output=True, text=True, check=False).stdout
    for arg in args:
        if arg.startswith("--"):
            assert arg.split("=", 1)[0] in help_text, f"{where}: {cmd} has no option {arg}"


def _check_command(tokens: list[str], where: str, ctx: ShellContext, line: str = "") -> None:
    while tokens and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", tokens[0]):
        name = tokens[0].split("=", 1)[0]
        assert _known_variable(name) or name in {"TOTAL_TIMESTEPS"}, f"{where}: unknown variable {name}"
        tokens = tokens[1:]
    if not tokens:
        return
    cmd, args = tokens[0], tokens[1:]
    if cmd == "tradeready":
        _check_tradeready(args, where)
    elif cmd == "export":
        for assignment in args:
            name = assignment.split("=", 1)[0]
            assert _known_variable(name), f"{where}: unknown variable {name}"
    elif cmd == "python":
        if args[:1] == ["-m"]:
            assert importlib.util.find_spec(args[1]) is not None, f"{where}: no module {args[1]}"
        else:
            assert (ROOT / args[0]).is_file(), f"{where}: no file {args[0]}"
    elif cmd == "pip":
        _check_pip(args, where)
    elif cmd == "source":
        assert args == [".venv/bin/activate"], where
    elif cmd in {"curl", "sqlite3"}:
        _execute(cmd, line, where, ctx)
    elif cmd in EXTERNAL_TOOLS:
        _check_external(cmd, args, where)
    else:
        raise AssertionError(f"{where}: no check for the command {cmd!r}; add one to this test")


def _execute(cmd: str, line: str, where: str, ctx: ShellContext) -> None:
    """Run a documented ``curl``/``sqlite3`` line as written, against the live platform."""
    assert ctx.platform is not None, f"{where}: {cmd} needs the live platform"
    assert line.split()[0] == cmd, f"{where}: run {cmd} on a line of its own"
    platform = ctx.platform
    env = {
        **os.environ,
        "TRADEREADY_API_KEY": platform.account.api_key,
        "TRADEREADY_BASE_URL": platform.server.url,
        "TRADEREADY_HOME": str(platform.server.settings.home),
    }
    for local in ("http://127.0.0.1:8000", "http://localhost:8000"):
        line = line.replace(local, platform.server.url)
    if cmd == "curl":
        line = line.replace("curl ", "curl --silent --show-error --fail ", 1)
    done = subprocess.run(
        ["bash", "-c", line], cwd=ctx.cwd, env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, f"{where}: `{line}` failed: {done.stdout}{done.stderr}"
    if "integrity_check" in line:
        assert done.stdout.strip() == "ok", done.stdout


# --- nginx -----------------------------------------------------------------------------------------


def _check_nginx(block: Block, page_text: str) -> None:
    conf = block.code
    assert conf.count("{") == conf.count("}"), f"{block.where}: unbalanced braces"
    statements = [s.strip() for s in re.split(r"[;{}]", conf) if s.strip()]
    assert all(not s.startswith("#") for s in statements)
    upstreams = set(re.findall(r"upstream\s+(\w+)\s*\{", conf))
    for target in re.findall(r"proxy_pass\s+https?://([\w.-]+)", conf):
        assert target in upstreams, f"{block.where}: proxy_pass to undefined upstream {target}"
    ports = set(re.findall(r"server\s+127\.0\.0\.1:(\d+);", conf))
    served = set(re.findall(r"tradeready serve[^\n]*--port (\d+)", page_text))
    assert ports and ports <= served, f"{block.where}: upstream ports {ports} but `tradeready serve` on {served}"
    assert re.search(r"proxy_buffering\s+off;", conf), "server-sent events need proxy_buffering off"
    size = re.search(r"client_max_body_size\s+(\d+)m;", conf)
    assert size and int(size[1]) * 1024 * 1024 >= Settings.model_fields["max_body_bytes"].default


def test_nginx_blocks() -> None:
    blocks = [b for b in all_blocks() if b.lang == "nginx"]
    assert blocks
    for block in blocks:
        _check_nginx(block, (DOCS / block.page).read_text(encoding="utf-8"))


def test_shell_blocks_without_platform_commands() -> None:
    """Every shell command is known; the ones that need the platform are run by the slow test."""
    checked = 0
    for block in all_blocks():
        if block.lang != "bash":
            continue
        ctx = ShellContext(None, (DOCS / block.page).read_text(encoding="utf-8"), ROOT)
        for tokens in _commands(block.code):
            if tokens[0] not in {"curl", "sqlite3"}:
                _check_command(tokens, block.where, ctx)
                checked += 1
    assert checked >= 30


@pytest.mark.parametrize(
    "line",
    [
        "tradeready data import a.csv --no-such-option",
        "tradeready data nonsense",
        "tradeready serve --port",
        "tradeready data",
        "python -m no_such_module_here",
        "export TRADEREADY_NO_SUCH_SETTING=1",
        "rm -rf /",
    ],
)
def test_the_shell_checker_rejects_what_does_not_exist(line: str) -> None:
    ctx = ShellContext(None, "", ROOT)
    with pytest.raises(AssertionError):
        for tokens in _commands(line):
            _check_command(tokens, "here", ctx)


# --- against a live platform -----------------------------------------------------------------------


@dataclass(frozen=True)
class Platform:
    server: LiveServer
    account: AccountKey
    workdir: Path
    run_ids: tuple[str, ...]


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TRADEREADY_")}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    settings = sqlite_settings(tmp_path_factory.mktemp("platform") / "home")
    imported = subprocess.run(
        [str(Path(sys.executable).with_name("tradeready")), "data", "import", *map(str, CANDLE_FILES)],
        env={**_base_env(), "TRADEREADY_HOME": str(settings.home)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    account = create_account(settings, "docs")
    workdir = tmp_path_factory.mktemp("docs-workdir")
    for path in CANDLE_FILES:
        shutil.copy(path, workdir / path.name)
    server = LiveServer(settings).start()
    try:
        with AgentExchangeClient(api_key=account.api_key, base_url=server.url) as client:
            runs = [_recorded_run(client, label, n) for n, label in enumerate(("ppo_v1", "dqn_v1", "sac_v1"), 2)]
        yield Platform(server, account, workdir, tuple(runs))
    finally:
        server.stop()


def _recorded_run(client: AgentExchangeClient, label: str, episodes: int) -> str:
    """A completed run with ``episodes`` episodes, for the pages' run-id placeholders."""
    run_id = client.create_training_run(strategy_label=label, env_id="TradeReady-BTC-v0")["run_id"]
    client.report_episodes(
        run_id,
        [
            {
                "episode": n,
                "roi_pct": 0.5 * n - 1.0,
                "sharpe_ratio": 0.1 * n,
                "max_drawdown_pct": 2.0 + n,
                "total_trades": 3 * n,
                "reward_sum": 0.01 * n,
                "steps": 24,
            }
            for n in range(1, episodes + 1)
        ],
    )
    client.complete_training_run(run_id)
    return run_id


def _docs_env(server: LiveServer, account: AccountKey, workdir: Path) -> dict[str, str]:
    return {
        **_base_env(),
        "TRADEREADY_API_KEY": account.api_key,
        "TRADEREADY_BASE_URL": server.url,
        "TRADEREADY_HOME": str(workdir / "trainer-home"),
        "TRADEREADY_CACHE_DIR": str(workdir / "candle-cache"),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _prepared(code: str, platform: Platform) -> str:
    """The block as run: placeholders replaced by real values, step counts made tiny."""
    code = code.replace('"ak_live_..."', repr(platform.account.api_key))
    placeholders = (*PLACEHOLDER_RUNS, *PLACEHOLDER_RUNS_BY_NAME)
    for placeholder, run_id in zip(placeholders, (*platform.run_ids, *platform.run_ids[:2]), strict=True):
        code = code.replace(placeholder, run_id)
    code = re.sub(r"total_timesteps=[\d_]+", "total_timesteps=256", code)
    code = re.sub(r"n_steps=[\d_]+", "n_steps=128", code)
    return re.sub(r"n_episodes=\d+", "n_episodes=2", code)


_RUNNER = r"""
import json, sys, traceback
blocks = json.load(sys.stdin)
namespace = {"__name__": "__main__"}
for where, code in blocks:
    print(f"--- {where}", flush=True)
    try:
        exec(compile(code, where, "exec"), namespace)
    except BaseException:
        traceback.print_exc()
        print(f"FAILED {where}", file=sys.stderr, flush=True)
        sys.exit(1)
"""

_INCLUDE = re.compile(r'^--8<-- "(examples/\w+\.py)"\n$')


@pytest.mark.slow
def test_python_blocks_run_against_the_platform(platform: Platform) -> None:
    failures: list[str] = []
    executed = 0
    tested_examples = (ROOT / "tests" / "examples" / "test_examples.py").read_text(encoding="utf-8")
    for page in nav_pages():
        if not (DOCS / page).is_file():
            continue
        runnable: list[tuple[str, str]] = []
        for block in code_blocks(DOCS / page):
            if block.lang != "python":
                continue
            include = _INCLUDE.match(block.code)
            if include:  # run (with tiny steps) by tests/examples
                stem = Path(include[1]).stem
                assert (ROOT / include[1]).is_file(), block.where
                assert f'"{stem}"' in tested_examples or stem == "full_training_loop", block.where
                continue
            runnable.append((block.where, _prepared(block.code, platform)))
        if not runnable:
            continue
        done = subprocess.run(
            [sys.executable, "-c", _RUNNER],
            input=json.dumps(runnable),
            cwd=platform.workdir,
            env=_docs_env(platform.server, platform.account, platform.workdir),
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        executed += len(runnable)
        if done.returncode != 0:
            failures.append(f"docs/{page}:\n{done.stdout[-1500:]}\n{done.stderr[-3000:]}")
    assert not failures, "\n\n".join(failures)
    assert executed >= 25


@pytest.mark.slow
def test_shell_commands_that_need_the_platform_run(platform: Platform) -> None:
    ran = 0
    for block in all_blocks():
        if block.lang != "bash":
            continue
        ctx = ShellContext(platform, (DOCS / block.page).read_text(encoding="utf-8"), platform.workdir)
        for line, commands in _lines(block.code):
            for tokens in commands:
                if tokens[0] in {"curl", "sqlite3"}:
                    _check_command(tokens, block.where, ctx, line)
                    ran += 1
    assert ran >= 4


def _same_shape(doc: Any, real: Any, where: str) -> None:
    if isinstance(doc, dict):
        assert isinstance(real, dict), f"{where}: documented an object, got {real!r}"
        missing = set(doc) - set(real)
        assert not missing, f"{where}: documented fields the API does not return: {sorted(missing)}"
        for key, value in doc.items():
            _same_shape(value, real[key], f"{where}.{key}")
    elif isinstance(doc, list):
        assert isinstance(real, list), f"{where}: documented a list, got {real!r}"
        if doc:
            assert real, f"{where}: the API returned an empty list"
            for item in doc:
                _same_shape(item, real[0], f"{where}[]")
    elif doc is None or real is None:
        return
    elif isinstance(doc, bool):
        assert isinstance(real, bool), f"{where}: documented {doc!r}, got {real!r}"
    elif isinstance(doc, int | float):
        number = isinstance(real, int | float) and not isinstance(real, bool)
        assert number, f"{where}: documented {doc!r}, got {real!r}"
    else:
        assert isinstance(real, type(doc)), f"{where}: documented {doc!r}, got {real!r}"


def _request_line(block: Block, platform: Platform) -> tuple[str, str]:
    [line] = block.code.strip().splitlines()
    method, target = line.split()
    target = target.replace("{run_id}", platform.run_ids[0])
    for placeholder, run_id in zip(PLACEHOLDER_RUNS, platform.run_ids, strict=True):
        target = target.replace(placeholder, run_id)
    return method, target


@pytest.mark.slow
def test_http_requests_answer_as_documented(platform: Platform) -> None:
    checked = 0
    with httpx.Client(base_url=platform.server.url, headers={"X-API-Key": platform.account.api_key}) as client:
        for page in nav_pages():
            if not (DOCS / page).is_file():
                continue
            answer: Any = None
            for block in code_blocks(DOCS / page):
                if block.lang == "http":
                    method, target = _request_line(block, platform)
                    response = client.request(method, target)
                    assert response.status_code == 200, f"{block.where}: {response.status_code} {response.text}"
                    answer = response.json()
                    checked += 1
                elif block.lang == "json":
                    _same_shape(json.loads(block.code), answer, block.where)
                    checked += 1
    assert checked >= 10
