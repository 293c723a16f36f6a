"""The evaluate use case (mtb.app.evaluate): the judge following generation, and one budget for every step."""

from __future__ import annotations

from pathlib import Path

from helpers import judge_responder
from mtb.app.evaluate import EvalSpec, evaluate
from mtb.app.reporter import Quiet, Recorder
from mtb.testing.openai_server import OpenAIServer, RecordedRequest, Reply


def respond(request: RecordedRequest) -> Reply:
    if request.body["model"] == "gpt-4":
        return judge_responder(request)
    return Reply(text="an answer " * 5, delay=0.02)


class Streams(Recorder):
    """A reporter that keeps, per progress stream, what it was told."""

    def __init__(self) -> None:
        super().__init__()
        self.events: dict[str, list[str]] = {}

    def progress(self, label: str) -> Quiet:
        events = self.events.setdefault(label, [])

        class Sink(Quiet):
            def start(self, total: int) -> None:
                events.append(f"start {total}")

            def grow(self, more: int) -> None:
                events.append(f"grow {more}")

            def advance(self, *, failed: bool = False) -> None:
                events.append("advance")

        return Sink()


def test_judging_starts_before_generation_ends_and_both_streams_show_progress(
    server: OpenAIServer, data_dir: Path
) -> None:
    server.responder = respond
    reporter = Streams()
    spec = EvalSpec(
        model=["m1"],
        api_base=[server.url],
        api_key="sk",
        judge_api_base=server.url,
        judge_api_key="sk",
        first_n=10,
        parallel=2,
        data_dir=data_dir,
    )
    report = evaluate(spec, reporter)
    assert report.exit_code == 0, reporter.text()
    assert report.pipelined
    models = [r.body["model"] for r in server.chat_requests()]
    assert models.count("m1") == 20 and models.count("gpt-4") == 20
    first_judgment = models.index("gpt-4")
    last_answer = len(models) - 1 - models[::-1].index("m1")
    assert first_judgment < last_answer  # the judge did not wait for every answer
    judge_events = reporter.events["judge"]
    assert judge_events.count("advance") == 20 and any(e.startswith("grow") for e in judge_events)
    assert reporter.events["generate m1"].count("advance") == 10
    assert [s.name for s in report.steps] == ["generate m1", "judge", "results"]


def test_one_budget_serves_generation_and_judging(server: OpenAIServer, data_dir: Path) -> None:
    server.responder = respond
    spec = EvalSpec(
        model=["m1"],
        api_base=[server.url],
        api_key="sk",
        judge_api_base=server.url,
        judge_api_key="sk",
        first_n=5,
        data_dir=data_dir,
        max_cost=1000.0,
        price_in=1.0,
        price_out=1.0,
    )
    report = evaluate(spec, Recorder())
    assert report.exit_code == 0
    judged = report.judged
    assert judged is not None and judged.cost_usd is not None and judged.cost_usd > 0
    # The model has no price: its generation is not counted, and the note says so.
    assert report.generated[0].cost_usd is None


def test_a_local_judge_of_local_models_is_not_pipelined() -> None:
    from mtb.app.evaluate import judge_follows
    from mtb.app.summary import ModelSpec

    local = [ModelSpec(model_path="out/a")]
    api = [ModelSpec(model="gpt-4o-mini")]
    assert not judge_follows(EvalSpec(model_path=["out/a"], judge_model_path="judge"), local)
    assert judge_follows(EvalSpec(model_path=["out/a"]), local)
    assert judge_follows(EvalSpec(model=["gpt-4o-mini"], judge_model_path="judge"), api)
    assert not judge_follows(EvalSpec(model=["gpt-4o-mini"], pipeline=False), api)
