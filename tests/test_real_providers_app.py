"""Issue 3 acceptance at app level: whole runs on a loopback OpenAI-compatible server.

The server answers every tier with the demo's replies (so plans parse) and reports usage
figures of its own choosing, including cached tokens, which the app must count once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mma_qt.core.model.domain import Tier
from mma_qt.core.model.options import RunOptions
from mma_qt.core.model.pricing import PricingTable
from mma_qt.core.model.prompts import sample_epic
from mma_qt.core.model.usage import Usage
from mma_qt.core.providers.base import CompletionRequest
from mma_qt.core.providers.demo import Scenario, reply
from mma_qt.core.providers.registry import build_factory
from mma_qt.core.settings.config import (
    Config,
    ProviderConfig,
    TierConfig,
    TiersConfig,
    WorkerTierConfig,
    save_config,
)
from mma_qt.hooks.client import ApiHookClient
from mma_qt.wiring import assemble

from .helpers import FINAL, run_off_gui_thread, short_socket_path
from .providers.wire import JsonReply, Recorded, Reply, SSEReply, WireServer, openai_error
from .providers.wire import openai_script as chat_stream
from .test_app_e2e import _mma_qt_command

MODELS = {Tier.ORCHESTRATOR: "gpt-4o", Tier.TECH_LEAD: "gpt-4o",
          Tier.WORKER: "gpt-4o-mini", Tier.QA: "gpt-4o-mini"}


class ChatServer:
    """Answers chat completions for any tier; records the usage it reported."""

    def __init__(self, key: str | None = None, reject: Callable[[str], bool] | None = None):
        self.key = key
        self.reject = reject or (lambda user: False)
        self.served: list[tuple[Tier, str, dict[str, Any]]] = []

    def __call__(self, recorded: Recorded) -> Reply:
        messages = recorded.body["messages"]
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        user = messages[-1]["content"]
        given = recorded.headers.get("authorization", "").removeprefix("Bearer ")
        if (self.key is not None and given != self.key) or self.reject(user):
            # Real servers echo (part of) the key: the app must never show it.
            return JsonReply(401, openai_error(
                401, "invalid_api_key", f"Incorrect API key provided: {given}."))
        tier = Tier(int(re.search(r"Tier (\d)", system).group(1)))  # type: ignore[union-attr]
        ticket = re.search(r"^Ticket id: (\S+)", user, re.MULTILINE)
        model = recorded.body["model"]
        request = CompletionRequest(tier, model, system, user, "wire",
                                    ticket.group(1) if ticket else None)
        text = reply(request, Scenario())
        usage = {
            "prompt_tokens": 900 + len(user) // 3,
            "completion_tokens": len(text) // 3 + 7,
            "total_tokens": 0,
            "prompt_tokens_details": {"cached_tokens": 128 * int(tier)},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        self.served.append((tier, model, usage))
        pieces = [text[i : i + 24] for i in range(0, len(text), 24)]
        return SSEReply(chat_stream(pieces, model, usage).full())

    def expected(self, tier: Tier, pricing: PricingTable) -> dict[str, Any]:
        rows = [(m, u) for t, m, u in self.served if t is tier]
        usages = [
            (m, Usage(input=u["prompt_tokens"] - u["prompt_tokens_details"]["cached_tokens"],
                      output=u["completion_tokens"],
                      cache_read=u["prompt_tokens_details"]["cached_tokens"]))
            for m, u in rows
        ]
        total = sum((u for _, u in usages), Usage())
        cost = sum(pricing.cost(m, u) or 0.0 for m, u in usages)
        return {"input": total.input, "output": total.output, "cache_read": total.cache_read,
                "cost_usd": round(cost, 6), "calls": len(rows)}


def loopback_config(base_url: str, provider: str = "vllm") -> Config:
    return Config(
        provider=provider,
        providers={provider: ProviderConfig(base_url=base_url + "/v1")},
        tiers=TiersConfig(
            tier1=TierConfig(model=MODELS[Tier.ORCHESTRATOR]),
            tier2=TierConfig(model=MODELS[Tier.TECH_LEAD]),
            tier3=WorkerTierConfig(model=MODELS[Tier.WORKER]),
            tier4=TierConfig(model=MODELS[Tier.QA]),
        ),
    )


@pytest.mark.ui
def test_whole_run_on_a_loopback_openai_compatible_server(
    qtbot: Any, qloop: Any, tmp_path: Path
) -> None:
    chat = ChatServer()
    pricing = PricingTable.load()
    with WireServer(responder=chat) as server:
        factory = build_factory(loopback_config(server.base_url))
        assert factory is not None and not factory.is_demo
        parts = assemble(factory, pricing, RunOptions(), auto=True,
                         hook_address=short_socket_path())
        qtbot.addWidget(parts.window)
        address = parts.hook.path

        def script() -> dict[str, Any]:
            with ApiHookClient(address) as client:
                client.start_epic(sample_epic(), workspace=str(tmp_path))
                return client.wait_for(lambda s: s["status"] in FINAL, 60, types=["status"])

        status = run_off_gui_thread(qtbot, script)
    assert status["status"] == "done", status["error"]
    assert "vllm" in status["provider"]
    for tier in Tier:
        expected = chat.expected(tier, pricing)
        got = status["tier_usage"][tier.label]
        assert (got["input"], got["output"], got["cache_read"]) == (
            expected["input"], expected["output"], expected["cache_read"]), tier
        assert got["estimated"] is False
        # Both sides are rounded to 6 digits: they may differ by one step in the last one.
        assert got["cost_usd"] == pytest.approx(expected["cost_usd"], abs=1.5e-6)
    assert chat.expected(Tier.WORKER, pricing)["calls"] == len(status["tickets"]) >= 5
    assert status["tier_usage"]["Tier 3"]["cost_usd"] > 0
    assert status["totals"]["cost_usd"] == pytest.approx(
        sum(chat.expected(t, pricing)["cost_usd"] for t in Tier), abs=5e-6)


SECRET = "sk-proj-TESTSECRET-6b1f0c9e2d7a4f35a8c1e9b0d2f4a6c8"


def _everything_written(*roots: Path) -> dict[str, str]:
    texts = {}
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_socket():
                texts[str(path)] = path.read_bytes().decode("utf-8", "replace")
    return texts


def test_no_api_key_is_written_anywhere(tmp_path: Path) -> None:
    """Acceptance 4: after a run with a key set (and a server that echoes it in an error),
    the key is in no log, config file, QSettings file, report, output or hook answer."""
    home = tmp_path / "home"
    dirs = {name: home / name for name in ("config", "state", "data", "cache")}
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(dirs["config"]),
        "XDG_STATE_HOME": str(dirs["state"]),
        "XDG_DATA_HOME": str(dirs["data"]),
        "XDG_CACHE_HOME": str(dirs["cache"]),
        "OPENAI_API_KEY": SECRET,
    }
    report = tmp_path / "report.json"
    sock = short_socket_path()
    # T-002's calls are refused with the key echoed: its error reaches stream and log.
    chat = ChatServer(key=SECRET, reject=lambda user: "Ticket id: T-002" in user)
    with WireServer(responder=chat) as server:
        config_file = dirs["config"] / "mma-qt" / "config.toml"
        save_config(loopback_config(server.base_url, provider="openai"), config_file)
        proc = subprocess.Popen(
            [*_mma_qt_command(), "--epic", sample_epic(), "--workspace", str(tmp_path),
             "--auto", "--report", str(report), "--hook", sock, "-v"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        answers: list[Any] = []
        try:
            assert proc.stderr is not None
            for line in proc.stderr:
                answers.append(line)
                if "hook listening on" in line:
                    break
            with ApiHookClient(sock) as client:
                answers.append(client.subscribe())
                status = client.wait_for(lambda s: s["status"] in FINAL, 60, types=["status"])
                answers.append(status)
                answers.extend(client.drain_events())
                answers.append(client.call("describe"))
                answers.append(client.call("get_mma_status", {"streams": False}))
                for sid in status["mma_streams"]:
                    answers.append(client.get_stream(sid))
                for field in ("epic", "workspace", "status_text", "totals_text", "title"):
                    answers.append(client.get_value(field))
                client.click("close")
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err
    assert status["status"] == "failed"  # T-002 refused: failed, dependents blocked
    tickets = {t["id"]: t for t in status["tickets"]}
    assert tickets["T-002"]["status"] == "failed"
    assert "401" in tickets["T-002"]["error"] or "auth" in tickets["T-002"]["error"].lower()
    assert tickets["T-001"]["status"] == "completed"
    assert "openai" in status["provider"]

    written = _everything_written(home, report.parent)
    assert any(p.endswith("config.toml") for p in written)
    assert any(p.endswith(".log") for p in written), "the log file was written"
    assert any(p.endswith(".conf") or p.endswith(".ini") for p in written), "QSettings"
    assert report.exists()
    haystacks = {**written, "stdout": out, "stderr": "".join(answers[:1]) + err,
                 "hook": json.dumps(answers, ensure_ascii=False)}
    for secret_part in (SECRET, SECRET[8:30]):
        leaks = [where for where, text in haystacks.items() if secret_part in text]
        assert leaks == [], f"API key found in {leaks}"
