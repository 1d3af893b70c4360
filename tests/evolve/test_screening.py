"""The Judge on the synthetic benchmark: static types, dedup, dynamic screen, rank equivalence,
full fitness, rejection counts and resume equivalence."""
import numpy as np
import pytest

from evoproxy.backends.serial import SerialBackend
from evoproxy.benchmarks import get_benchmark
from evoproxy.evolve.evaluator import Evaluator
from evoproxy.evolve.screening import REJECTIONS, Judge, Verdict, count_rejections
from evoproxy.lang.program import Program, parse
from evoproxy.scoring import fitness as fit
from evoproxy.scoring.setup import EvalSetup

TARGET = "layer_sum(l2(grad))"
CONSTANT = "mul(0.0, layer_sum(l2(grad)))"
TIES = "layer_sum(sign(l2(weight)))"  # the number of layers: 2-4, so 8 networks must tie
# float64 overflow: 1e300 * 1e300 = inf on every network, and inf - inf = NaN
INF = "mul(1e300, mul(1e300, layer_sum(l2(grad))))"
NAN = f"sub({INF}, {INF})"
OTHER = "layer_sum(l2(weight))"  # valid, fresh, imperfect
DOUBLED = "mul(2.0, layer_sum(l2(grad)))"  # monotone transforms of TARGET
ROOTED = "sqrt(layer_sum(l2(grad)))"
# ill-typed: W-shaped times A-shaped; only Program.call can build it (parse refuses it)
ILL = Program.call("layer_sum", Program.call("l2", Program.call("mul", Program.stat("weight"),
                                                                Program.stat("act"))))
NOT_SCALAR = Program.call("l2", Program.stat("grad"))  # one number per layer, not per network


@pytest.fixture
def make_judge(backend, keys, accuracies):
    def make(b=None, **kw):
        return Judge(Evaluator(b or backend), keys[:8], {"synthetic": keys}, accuracies, **kw)
    return make


def P(text):
    return parse(text) if isinstance(text, str) else text


def judge_one(judge, text):
    (v,) = judge.judge([P(text)])
    return v


# ---- fresh programs -----------------------------------------------------------------------------

def test_the_target_ranks_the_search_networks_perfectly(make_judge):
    v = judge_one(make_judge(), TARGET)
    assert v.rejection is None and v.reused_from is None and v.usable
    assert v.fitness == pytest.approx(1.0)
    assert v.scores["per_benchmark"]["synthetic"] == pytest.approx(1.0)
    assert sorted(v.scores["screen_ranks"]) == list(range(2, 17, 2))  # 8 distinct ranks, doubled


def test_another_formula_gets_its_own_lower_fitness(make_judge, backend, keys, accuracies):
    v = judge_one(make_judge(), OTHER)
    assert v.rejection is None and v.usable
    scores, late = backend.score([OTHER], keys)
    assert late == {}
    assert v.fitness == pytest.approx(fit.kendall(scores[0], accuracies["synthetic"]))
    assert -1.0 <= v.fitness < 0.99


def test_spearman_metric_and_min_combine(make_judge):
    v = judge_one(make_judge(metric="spearman", combine="min"), TARGET)
    assert v.rejection is None and v.fitness == pytest.approx(1.0)


def test_an_undefined_metric_value_is_rejected_nan_not_kept(make_judge, monkeypatch):
    import evoproxy.evolve.screening as screening
    monkeypatch.setattr(screening.fit, "correlate_checked", lambda *a, **k: (float("nan"), None))
    v = judge_one(make_judge(metric="emq"), TARGET)
    assert v.rejection == "nan" and v.fitness is None


# ---- static rejection ---------------------------------------------------------------------------

def test_ill_typed_programs_are_rejected_without_being_scored(make_judge):
    judge = make_judge()
    before = judge.evaluator.backend.worker.probes
    verdicts = judge.judge([ILL, NOT_SCALAR, Program.call("no_such_op", Program.stat("grad")),
                            Program.call("layer_sum", Program.stat("no_such_stat"))])
    assert [v.rejection for v in verdicts] == ["type"] * 4
    assert all(v.fitness is None and not v.usable for v in verdicts)
    assert judge.seen == {} and judge.by_ranks == {}
    assert judge.evaluator.backend.worker.probes == before
    # rejected again each time, never as a duplicate
    assert judge_one(judge, ILL).rejection == "type"


# ---- the dynamic screen -------------------------------------------------------------------------

@pytest.mark.parametrize("text, reason", [(CONSTANT, "constant"), (TIES, "ties"), (INF, "inf"),
                                          (NAN, "nan")])
def test_dynamic_screen(make_judge, backend, keys, text, reason):
    # the scores on the screening networks really are what the reason says
    screen, _ = backend.score([text], keys[:8])
    assert fit.screen(screen[0]) == reason
    if reason == "ties":
        assert len(set(screen[0])) > 1 and fit.tie_fraction(screen[0]) > 0.5
    judge = make_judge()
    v = judge_one(judge, text)
    assert (v.fitness, v.rejection, v.reused_from) == (None, reason, None)
    assert not v.usable
    assert P(text).hash in judge.seen and judge.by_ranks == {}  # never a rank-equivalence twin


def test_a_looser_tie_limit_lets_a_tied_program_through(make_judge):
    v = judge_one(make_judge(max_tie_frac=1.0), TIES)
    assert v.rejection is None and v.fitness is not None


def test_a_program_out_of_time_is_rejected_timeout(make_judge):
    slow = SerialBackend(EvalSetup(timeout_s=0.0), get_benchmark)  # out of time after 1 network
    judge = make_judge(slow)
    verdicts = judge.judge([P(TARGET), P(OTHER)])
    assert [(v.fitness, v.rejection) for v in verdicts] == [(None, "timeout")] * 2


# ---- deduplication ------------------------------------------------------------------------------

def test_duplicates_in_one_batch_and_in_a_later_batch_reuse_the_fitness(make_judge, backend):
    judge = make_judge()
    # the second spelling is the same canonical program (mul is commutative)
    first = judge.judge([P(OTHER), P(OTHER), P("layer_sum(l2(mul(grad, weight)))"),
                         P("layer_sum(l2(mul(weight, grad)))")])
    assert first[0].rejection is None and first[2].rejection is None
    for orig, dup in ((first[0], first[1]), (first[2], first[3])):
        assert dup.rejection == "duplicate" and dup.usable
        assert dup.fitness == orig.fitness and dup.scores == orig.scores
    assert first[1].reused_from == P(OTHER).hash
    probes = backend.worker.probes
    later = judge.judge([P(OTHER), P("layer_sum(l2(mul(weight, grad)))")])
    assert [v.rejection for v in later] == ["duplicate", "duplicate"]
    assert [v.fitness for v in later] == [first[0].fitness, first[2].fitness]
    assert backend.worker.probes == probes  # nothing was scored again


def test_a_duplicate_of_a_rejected_program_has_no_fitness(make_judge):
    judge = make_judge()
    assert judge_one(judge, CONSTANT).rejection == "constant"
    again = judge.judge([P(CONSTANT), P(CONSTANT)])
    assert [(v.fitness, v.rejection) for v in again] == [(None, "duplicate")] * 2
    assert not any(v.usable for v in again)


# ---- rank equivalence ---------------------------------------------------------------------------

def test_a_monotone_transform_reuses_the_fitness_in_the_same_batch(make_judge):
    judge = make_judge()
    target = P(TARGET)
    verdicts = judge.judge([target, P(DOUBLED), P(ROOTED)])
    assert verdicts[0].rejection is None
    for v in verdicts[1:]:
        assert v.rejection == "rank-equivalent" and v.usable
        assert v.reused_from == target.hash
        assert v.fitness == verdicts[0].fitness
        assert v.scores["screen_ranks"] == verdicts[0].scores["screen_ranks"]


def test_a_monotone_transform_reuses_the_fitness_in_a_later_batch(make_judge):
    judge = make_judge()
    base = judge_one(judge, TARGET)
    v = judge_one(judge, DOUBLED)
    assert (v.rejection, v.reused_from, v.fitness) == ("rank-equivalent", P(TARGET).hash, base.fitness)
    # in one batch the first of two rank-equivalent programs is the one scored in full
    judge2 = make_judge()
    rooted, target = judge2.judge([P(ROOTED), P(TARGET)])
    assert (rooted.rejection, rooted.reused_from) == (None, None)
    assert (target.rejection, target.reused_from) == ("rank-equivalent", P(ROOTED).hash)
    assert target.fitness == rooted.fitness == base.fitness
    # a rank-equivalent program asked for again is a plain duplicate with the reused fitness
    dup = judge_one(judge, DOUBLED)
    assert (dup.rejection, dup.fitness) == ("duplicate", base.fitness)


def test_an_order_reversing_transform_is_not_rank_equivalent(make_judge):
    judge = make_judge()
    base = judge_one(judge, TARGET)
    v = judge_one(judge, "negate(layer_sum(l2(grad)))")
    assert v.rejection is None and v.reused_from is None
    assert v.fitness == pytest.approx(-base.fitness)


# ---- counting ------------------------------------------------------------------------------------

def test_count_rejections_counts_by_reason(make_judge):
    judge = make_judge()
    verdicts = judge.judge([P(TARGET), P(DOUBLED), P(CONSTANT), P(CONSTANT), P(TIES), ILL,
                            NOT_SCALAR, P(OTHER), P(INF), P(NAN)])
    counts = count_rejections(verdicts)
    assert counts == {"rank-equivalent": 1, "constant": 1, "duplicate": 1, "ties": 1, "type": 2,
                      "inf": 1, "nan": 1}
    assert set(counts) <= set(REJECTIONS)
    assert count_rejections([]) == {}
    assert count_rejections([Verdict(0.5)]) == {}


# ---- resume ------------------------------------------------------------------------------------

BATCHES = [
    [TARGET, CONSTANT, OTHER, DOUBLED, TIES, ILL, OTHER],
    [ROOTED, TARGET, NAN, "layer_sum(l2(mul(grad, weight)))", "layer_mean(l2(grad))", CONSTANT],
    # duplicates of fresh, rejected and rank-equivalent programs, new twins, fresh ones
    [TARGET, DOUBLED, ROOTED, CONSTANT, TIES, NAN, OTHER, ILL, "mul(0.5, layer_sum(l2(grad)))",
     "layer_sum(l2(mul(weight, grad)))", "mul(3.0, layer_mean(l2(grad)))", INF,
     "layer_sum(l1(weight))", "layer_sum(l1(weight))", "layer_mean(sum(square(act)))"],
]


def test_remembered_verdicts_give_the_same_later_verdicts(make_judge, keys, accuracies):
    first = make_judge()
    history = []
    for batch in BATCHES[:-1]:
        programs = [P(t) for t in batch]
        history += zip(programs, first.judge(programs))
    expected = first.judge([P(t) for t in BATCHES[-1]])
    assert {v.rejection for v in expected} >= {None, "duplicate", "rank-equivalent", "type"}

    # a resumed run: a fresh backend and judge, fed the stored verdicts in order
    resumed = make_judge(SerialBackend(EvalSetup(), get_benchmark))
    for p, v in history:
        resumed.remember(p.hash, v)
    assert resumed.by_ranks == _caches_before(keys, accuracies, BATCHES[:-1])[1]
    assert resumed.judge([P(t) for t in BATCHES[-1]]) == expected
    assert resumed.seen == first.seen and resumed.by_ranks == first.by_ranks


def _caches_before(keys, accuracies, batches):
    judge = Judge(Evaluator(SerialBackend(EvalSetup(), get_benchmark)), keys[:8], {"synthetic": keys},
                  accuracies)
    for batch in batches:
        judge.judge([P(t) for t in batch])
    return judge.seen, judge.by_ranks


def test_remember_ignores_type_and_duplicate_verdicts(make_judge):
    judge = make_judge()
    judge.remember(ILL.hash, Verdict(None, "type"))
    judge.remember(P(OTHER).hash, Verdict(0.3, "duplicate", P(OTHER).hash))
    assert judge.seen == {} and judge.by_ranks == {}
    v = judge_one(judge, OTHER)
    assert v.rejection is None  # scored afresh, not a duplicate of a duplicate
    assert np.isfinite(v.fitness)


# ---- fitness beyond a control proxy (e.g. model size) ---------------------------------------------

def test_partial_correlation_matches_its_definition():
    assert fit.partial_correlation(0.5, 0.0, 0.0) == pytest.approx(0.5)
    assert fit.partial_correlation(0.8, 1.0, 0.8) == 0.0  # ranks exactly like the control: nothing beyond it
    assert fit.partial_correlation(0.6, 0.5, 0.4) == pytest.approx((0.6 - 0.2) / np.sqrt(0.75 * 0.84))


def test_control_turns_fitness_into_the_partial_correlation(make_judge, backend, keys, accuracies):
    plain = judge_one(make_judge(), OTHER)
    v = judge_one(make_judge(control=TARGET), OTHER)
    scores, _ = backend.score([OTHER, TARGET], keys)
    acc = accuracies["synthetic"]
    want = fit.partial_correlation(fit.kendall(scores[0], acc), fit.kendall(scores[0], scores[1]),
                       fit.kendall(acc, scores[1]))
    assert v.fitness == pytest.approx(want) and v.fitness != pytest.approx(plain.fitness)
    # the control itself (and any monotone copy of it) explains nothing beyond the control
    assert judge_one(make_judge(control=TARGET), DOUBLED).fitness == 0.0
