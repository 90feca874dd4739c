"""The LLM engine: the real langchain-openai client, the test server standing in for OpenRouter."""

import json
from pathlib import Path

import pytest

from core.settings import Settings
from graphs.compiler import TurnInput, compile_scenario, run_turn
from graphs.llm import LLMClient
from graphs.runtime import Runtime
from graphs.spec import decode_scenario
from tests.llm_server import LLMServer
from tests.unit.test_compiler import search

pytestmark = pytest.mark.integration

DEFAULT = decode_scenario((Path(__file__).resolve().parents[2] / "graphs" / "scenarios" / "default.json").read_bytes())


def settings_for(server: LLMServer, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, llm_base_url=server.base_url, openrouter_api_key="test-key")


async def test_answer_is_grounded_in_the_documents(llm_server: LLMServer, tmp_path: Path) -> None:
    llm_server.script(
        {"intents": [{"id": "delivery", "confidence": 0.92}, {"id": "price", "confidence": 0.05}]},
        {"action": "answer", "reply": "По Казани привезём завтра за 400 ₽, от 30 000 ₽ — бесплатно."},
    )
    async with LLMClient(settings_for(llm_server, tmp_path)) as llm:
        result = await run_turn(
            compile_scenario(DEFAULT),
            TurnInput(
                message="скока стоит доставка по казани", item={"id": 7, "title": "Stels Navigator 700", "price": 28500}
            ),
            Runtime(search=search, llm=llm),
        )
    assert result.error is None and result.engine == "llm"
    assert result.state["intent"] == "delivery" and not result.handoff
    assert result.reply.startswith("По Казани привезём")

    intent_request, answer_request = llm_server.requests_to("chat")
    assert intent_request.model == "openai/gpt-5-mini" and answer_request.model == "openai/gpt-5-mini"
    assert answer_request.body.get("max_completion_tokens") == 2000
    system, user = answer_request.body["messages"]
    assert "Никогда не придумывай цены" in system["content"]
    # The prompt carries the retrieved documents (with their facts) and the question.
    assert "[d1] Доставка по городу" in user["content"] and "400 ₽" in user["content"]
    assert "скока стоит доставка по казани" in user["content"]
    assert json.dumps(answer_request.body["response_format"]).count("handoff") >= 1

    answer = next(e for e in result.trace if e["node"] == "answer")
    assert answer["engine"] == "llm" and answer["tokens_in"] > 0 and answer["tokens_out"] > 0 and answer["model"]


async def test_model_decides_handoff_as_a_field(llm_server: LLMServer, tmp_path: Path) -> None:
    llm_server.script(
        {"intents": [{"id": "product_info", "confidence": 0.9}]},
        {"action": "handoff", "reply": "Я бы сказал что рама 21 дюйм"},  # text ignored: the action decides
    )
    async with LLMClient(settings_for(llm_server, tmp_path)) as llm:
        result = await run_turn(
            compile_scenario(DEFAULT), TurnInput(message="а рама какого размера?"), Runtime(search=search, llm=llm)
        )
    assert result.handoff and result.trace[-1]["node"] == "handoff_unanswered"
    assert "21 дюйм" not in result.reply


async def test_long_reply_is_cut_at_a_sentence_under_the_avito_limit(llm_server: LLMServer, tmp_path: Path) -> None:
    long_reply = " ".join(f"Предложение номер {i} про доставку велосипеда." for i in range(60))
    llm_server.script({"intents": [{"id": "delivery", "confidence": 0.95}]}, {"action": "answer", "reply": long_reply})
    async with LLMClient(settings_for(llm_server, tmp_path)) as llm:
        result = await run_turn(
            compile_scenario(DEFAULT), TurnInput(message="доставка?"), Runtime(search=search, llm=llm)
        )
    assert 0 < len(result.reply) <= 1000 and result.reply.endswith(".")


async def test_model_failure_hands_the_chat_to_a_person(llm_server: LLMServer, tmp_path: Path) -> None:
    from tests.llm_server import error

    llm_server.script(error(401, "bad key"))
    async with LLMClient(settings_for(llm_server, tmp_path)) as llm:
        result = await run_turn(
            compile_scenario(DEFAULT), TurnInput(message="доставка?"), Runtime(search=search, llm=llm)
        )
    assert result.handoff and result.error and result.reply == ""
