"""An operator's own sentiment model: a local ONNX model directory or an OpenAI-compatible
endpoint. The tests build a tiny ONNX model and run a stub endpoint of their own, and prove
the plumbing: loading, batching, the timeout, and the built-in scorer standing in when the
model is down."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.inbox.language import LanguageDetector
from services.inbox.scorers import Analyser, HttpScorer, OnnxScorer
from tests.inbox.conftest import Inbox
from tests.inbox.test_rules_sentiment import by_text, post
from tests.inbox.test_x_webhooks import ACCOUNT
from tests.support.servers import serve

LANGUAGES = ("en", "he", "is", "es", "fr", "de", "pt", "ar", "it", "nl", "ru")
# Per word: (negative, neutral, positive) logits the tiny model adds up.
WORDS = {
    "[PAD]": (0, 0, 0),
    "[UNK]": (0, 0, 0),
    "adoro": (-2, 0, 3),
    "fantastico": (-2, 0, 3),
    "love": (-2, 0, 3),
    "pessimo": (3, 0, -2),
    "schifo": (3, 0, -2),
    "awful": (3, 0, -2),
}
ITALIAN = {
    "Adoro il nuovo negozio, davvero fantastico": "positive",
    "Servizio pessimo, una vera schifo di esperienza": "negative",
}


def build_model(directory: Path) -> Path:
    """A bag-of-words classifier as an ONNX graph, with its tokenizer and labels."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel

    vocab = {word: i for i, word in enumerate(WORDS)}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(directory / "tokenizer.json"))

    table = np.array(list(WORDS.values()), dtype=np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["table", "input_ids"], ["embedded"]),
            helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", ["mask", "last"], ["mask3"]),
            helper.make_node("Mul", ["embedded", "mask3"], ["kept"]),
            helper.make_node("ReduceSum", ["kept", "tokens"], ["summed"], keepdims=0),
            # An empty or unknown text leans neutral.
            helper.make_node("Add", ["summed", "bias"], ["logits"]),
        ],
        "tiny-sentiment",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])],
        initializer=[
            numpy_helper.from_array(table, "table"),
            numpy_helper.from_array(np.array([2], dtype=np.int64), "last"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "tokens"),
            numpy_helper.from_array(np.array([0, 1, 0], dtype=np.float32), "bias"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, str(directory / "model.onnx"))
    (directory / "config.json").write_text(
        json.dumps({"id2label": {"0": "NEGATIVE", "1": "NEUTRAL", "2": "POSITIVE"}})
    )
    return directory


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("tiny-sentiment"))


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector(languages=LANGUAGES)


async def test_an_onnx_model_scores_a_batch(model_dir: Path) -> None:
    scorer = OnnxScorer(model_dir)
    scores = await scorer.score(["I love it", "awful, just AWFUL", "see you tomorrow"])
    assert scores[0] > 0.5 and scores[1] < -0.5 and abs(scores[2]) < 0.2


async def test_the_model_covers_its_languages_and_the_built_in_scorer_the_rest(
    model_dir: Path, detector: LanguageDetector
) -> None:
    analyser = Analyser(
        detector=detector, model=OnnxScorer(model_dir), model_languages=frozenset({"it"})
    )
    texts = [*ITALIAN, "השירות שלכם גרוע"]
    readings = await analyser.read([(t, None) for t in texts])
    assert [r.language for r in readings] == ["it", "it", "he"]
    assert [r.scorer for r in readings] == ["onnx", "onnx", "builtin"]
    assert readings[0].raw > 0 and readings[1].raw < 0 and readings[2].raw < 0  # type: ignore[operator]
    # Without the model, Italian is a language nothing covers.
    plain = await Analyser(detector=detector).read([(texts[0], None)])
    assert plain[0].raw is None and plain[0].scorer == "none"


class StubEndpoint:
    """An OpenAI-compatible chat completions endpoint that labels by a few words, and can
    be made slow or broken."""

    def __init__(self) -> None:
        self.requests: list[list[str]] = []
        self.mode = "ok"
        self.app = FastAPI()
        self.never = asyncio.Event()
        self.app.post("/v1/chat/completions")(self.complete)

    async def complete(self, request: Request) -> Any:
        body = await request.json()
        texts = json.loads(body["messages"][-1]["content"])
        self.requests.append(texts)
        if self.mode == "slow":
            await self.never.wait()  # held until the client gives up
        if self.mode == "broken":
            return JSONResponse({"error": "model crashed"}, status_code=500)
        labels = [
            "positive" if "love" in t.lower() else "negative" if "awful" in t.lower() else "neutral"
            for t in texts
        ]
        return {"choices": [{"message": {"role": "assistant", "content": json.dumps(labels)}}]}


async def test_an_http_endpoint_is_asked_in_batches_and_stood_in_for_when_down(
    detector: LanguageDetector,
) -> None:
    stub = StubEndpoint()
    async with serve(stub.app) as url:
        scorer = HttpScorer(url + "/v1", model="tiny")
        analyser = Analyser(detector=detector, model=scorer, batch=2, timeout=1.0, retry_after=300)
        texts = [
            "I love this shop",
            "awful service",
            "see you at the event",
            "love the colours",
            "this is awful",
        ]
        readings = await analyser.read([(t, None) for t in texts])
        assert [len(r) for r in stub.requests] == [2, 2, 1]
        assert [r.scorer for r in readings] == ["http"] * 5
        assert [r.raw > 0 for r in readings] == [True, False, False, True, False]  # type: ignore[operator]

        # Too slow: the built-in scorer reads the batch, and the endpoint is left alone
        # for `retry_after` instead of costing every batch its timeout.
        stub.mode = "slow"
        started = asyncio.get_running_loop().time()
        readings = await analyser.read([("awful, I hate waiting", None)])
        assert asyncio.get_running_loop().time() - started < 3
        assert readings[0].scorer == "builtin" and readings[0].raw < 0  # type: ignore[operator]
        asked = len(stub.requests)
        readings = await analyser.read([("I love it", None)])
        assert readings[0].scorer == "builtin" and len(stub.requests) == asked
        stub.never.set()  # lets the abandoned request finish, so the server can stop

        # Broken answers count as down too; once the wait is over it is asked again.
        stub.mode = "broken"
        analyser.retry_after = 0
        analyser._down_until = 0
        assert (await analyser.read([("love", None)]))[0].scorer == "builtin"
        stub.mode = "ok"
        assert (await analyser.read([("love", None)]))[0].scorer == "http"
        await scorer.close()
    # The endpoint gone altogether (connection refused).
    gone = Analyser(detector=detector, model=HttpScorer(url + "/v1", model="tiny"))
    readings = await gone.read([("what an awful day", None)])
    assert readings[0].scorer == "builtin" and readings[0].raw < 0  # type: ignore[operator]


async def test_the_inbox_reads_with_the_operators_model(start_inbox: Any, model_dir: Path) -> None:
    async with start_inbox(
        sentiment_onnx_dir=str(model_dir), sentiment_model_languages=["it"]
    ) as inbox:
        inbox: Inbox
        await inbox.connect_channel(network="x", external_id=ACCOUNT)
        await inbox.wait_for(lambda: inbox.fetch("SELECT 1 FROM inbox.channels"))
        for n, text in enumerate(ITALIAN):
            await post(inbox, f"18000000000000008{n:02d}", text)
        got = await by_text(inbox, len(ITALIAN))
        for text, expected in ITALIAN.items():
            assert got[text]["language"] == "it"
            assert got[text]["sentiment"] == expected
