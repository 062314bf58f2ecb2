"""Known-answer tests of snninfo.information.estimators and .stimulus (all in bits)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from snninfo.information import (
    benjamini_hochberg,
    bin_counts,
    binary_entropy,
    class_entropy,
    count_information,
    joint_counts,
    mi_from_contingency,
    mi_from_counts,
    miller_madow_bias,
    miller_madow_mi,
    permutation_p_value,
    permutation_test,
    plugin_mi,
    prediction_information,
    spike_entropy,
)

NULLS = ("circular_shift", "shuffle")


def bernoulli(rng: np.random.Generator, shape: tuple[int, ...], p: float) -> np.ndarray:
    return (rng.random(shape) < p).astype(np.uint8)


def reference_mi(x: np.ndarray, y: np.ndarray) -> float:
    """Plug-in MI in bits of two 1-D binary sequences by looping over the contingency table."""
    n = x.size
    mi = 0.0
    for u in (0, 1):
        for v in (0, 1):
            n_uv = np.sum((x == u) & (y == v))
            if n_uv:
                mi += n_uv / n * math.log2(n_uv * n / (np.sum(x == u) * np.sum(y == v)))
    return mi


def reference_matrix(x: np.ndarray, y: np.ndarray, lag: int) -> np.ndarray:
    """Loop reference for (R, T, n) trains: pairs (x[t], y[t + lag]) within each repeat."""
    t = x.shape[1]
    xs = np.concatenate([r[: t - lag] for r in x])
    ys = np.concatenate([r[lag:] for r in y])
    return np.array([[reference_mi(xs[:, i], ys[:, j]) for j in range(ys.shape[1])]
                     for i in range(xs.shape[1])])


# ------------------------------------------------------------------------ entropy


def test_binary_entropy_known_values():
    p = np.array([0.0, 1.0, 0.5, 0.25, 0.11])
    expected = [0.0, 0.0, 1.0, 0.8112781244591328, 0.4999159581645280]
    np.testing.assert_allclose(binary_entropy(p), expected, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        binary_entropy([1.5])


def test_spike_entropy_is_entropy_of_the_spike_probability():
    trains = np.zeros((8, 3), np.uint8)
    trains[:4, 0] = 1  # p = 1/2
    trains[:, 1] = 1  # always firing
    trains[:2, 2] = 1  # p = 1/4
    np.testing.assert_allclose(spike_entropy(trains), [1.0, 0.0, binary_entropy(0.25)], atol=1e-15)
    with pytest.raises(ValueError, match="only 0 and 1"):
        spike_entropy(np.full((4, 1), 2))


# ------------------------------------------------------------------ plug-in MI


@pytest.mark.parametrize("lag", [0, 1, 3])
def test_plugin_mi_equals_contingency_reference(lag):
    rng = np.random.default_rng(1)
    x = bernoulli(rng, (60, 7), 0.3)
    y = bernoulli(rng, (60, 4), 0.2)
    y[3:, 0] = x[:-3, 2] | y[3:, 0]  # some dependence
    np.testing.assert_allclose(plugin_mi(x, y, lag), reference_matrix(x[None], y[None], lag),
                               rtol=0, atol=1e-12)


def test_pooled_pairs_stay_within_each_repeat():
    rng = np.random.default_rng(2)
    x = bernoulli(rng, (3, 40, 5), 0.3)
    y = bernoulli(rng, (3, 40, 4), 0.3)
    y[:, 1:, 0] = x[:, :-1, 1]
    y[1:, 0, 0] = x[:-1, -1, 1]  # would only matter if a lag crossed repeats
    got = plugin_mi(x, y, 1)
    np.testing.assert_allclose(got, reference_matrix(x, y, 1), rtol=0, atol=1e-12)
    # the planted pair is an exact copy within repeats: MI = H(input over the paired steps)
    assert got[1, 0] == pytest.approx(spike_entropy(x[:, :-1, 1].reshape(-1)), abs=1e-12)
    assert joint_counts(x, y, 1).n == 3 * 39


def test_plugin_mi_equals_sklearn_in_bits():
    from sklearn.feature_selection import mutual_info_classif

    rng = np.random.default_rng(3)
    x = bernoulli(rng, (250, 30), 0.05)
    y = bernoulli(rng, (250, 3), 0.05)
    y[:, 2] = x[:, 4]
    mi = plugin_mi(x, y)
    for j in range(y.shape[1]):
        nats = mutual_info_classif(x, y[:, j], discrete_features=True)
        np.testing.assert_allclose(mi[:, j], nats / np.log(2), rtol=0, atol=1e-12)


def test_mi_from_counts_agrees_with_contingency_and_checks_counts():
    n11, nx, ny, n = 3, 10, 7, 40
    table = [[n - nx - ny + n11, ny - n11], [nx - n11, n11]]
    assert mi_from_counts(n11, nx, ny, n) == pytest.approx(mi_from_contingency(table), abs=1e-14)
    with pytest.raises(ValueError, match="inconsistent"):
        mi_from_counts(8, 10, 7, 40)


def test_binary_symmetric_channel_capacity():
    rng = np.random.default_rng(4)
    q, t = 0.1, 200_000
    x = bernoulli(rng, (t, 1), 0.5)
    y = x ^ bernoulli(rng, (t, 1), q)
    expected = 1.0 - binary_entropy(q)  # 0.531 bits
    assert plugin_mi(x, y)[0, 0] == pytest.approx(expected, abs=0.01)
    assert miller_madow_mi(x, y)[0, 0] == pytest.approx(expected, abs=0.01)


def test_miller_madow_hand_example():
    # n11 = 1, n10 = 1, n01 = 1, n00 = 5: all 4 joint cells and both marginal bins occupied
    x = np.array([1, 1, 0, 0, 0, 0, 0, 0])
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0])
    plug = (1 / 8 * math.log2((1 / 8) / (2 / 8 * 2 / 8))
            + 2 * 1 / 8 * math.log2((1 / 8) / (2 / 8 * 6 / 8))
            + 5 / 8 * math.log2((5 / 8) / (6 / 8 * 6 / 8)))
    bias = (4 - 2 - 2 + 1) / (2 * 8 * math.log(2))
    assert plugin_mi(x, y)[0, 0] == pytest.approx(plug, abs=1e-14)
    assert miller_madow_bias(1, 2, 2, 8) == pytest.approx(bias, abs=1e-15)
    assert miller_madow_mi(x, y)[0, 0] == pytest.approx(plug - bias, abs=1e-14)
    # a constant output has one bin: bias (m_x - m_x - 1 + 1) = 0
    assert miller_madow_bias(0, 2, 0, 8) == 0.0


# -------------------------------------------------------------- permutation test


@pytest.mark.parametrize("null", NULLS)
def test_independent_trains_give_calibrated_p_values(null):
    rng = np.random.default_rng(5)
    x = bernoulli(rng, (250, 50), 0.1)
    y = bernoulli(rng, (250, 200), 0.05)
    res = permutation_test(x, y, lag=1, permutations=200, null=null, seed=11)
    # the paper's criterion flags everything that spikes; the test does not
    assert np.all(res.mi_sum[y[1:].sum(axis=0) > 0] > 0)
    assert stats.kstest(res.p_value, "uniform").pvalue > 0.01
    n_small = int(np.sum(res.p_value <= 0.05))
    assert stats.binomtest(n_small, res.p_value.size, 0.05).pvalue > 0.01
    # corrections remove the bias on average: the plug-in is far from 0, corrected is not
    assert res.mi_sum.mean() > 20 * abs(res.mi_sum_shuffle_corrected.mean())
    assert abs(res.mi_shuffle_corrected.mean()) < 0.1 * res.mi.mean()
    # Miller-Madow over-corrects sparse trains, but is still closer to 0 than the plug-in
    assert abs(res.mi_miller_madow.mean()) < 0.5 * res.mi.mean()


@pytest.mark.parametrize("null", NULLS)
def test_copy_one_step_later(null):
    rng = np.random.default_rng(6)
    x = bernoulli(rng, (250, 20), 0.2)
    y = bernoulli(rng, (250, 3), 0.1)
    y[0, 0] = 0
    y[1:, 0] = x[:-1, 5]
    lag1 = permutation_test(x, y, lag=1, permutations=300, null=null, seed=1)
    assert lag1.mi[5, 0] == pytest.approx(spike_entropy(x[:-1, 5]), abs=1e-9)
    assert lag1.p_value[0] == pytest.approx(1 / (1 + lag1.permutations))
    assert lag1.significant(0.05)[0]
    lag0 = permutation_test(x, y, lag=0, permutations=300, null=null, seed=1)
    assert not lag0.significant(0.05)[0]


def test_circular_shift_enumerates_distinct_shifts():
    rng = np.random.default_rng(7)
    x = bernoulli(rng, (40, 6), 0.3)
    y = bernoulli(rng, (40, 2), 0.3)
    full = permutation_test(x, y, lag=1, permutations=1000, seed=0)
    assert full.permutations == 38  # T - lag - 1 distinct non-identity shifts
    null = np.array([plugin_mi(x[:-1], np.roll(y[1:], -d, axis=0)).sum(axis=0)
                     for d in range(1, 39)])
    np.testing.assert_allclose(full.mi_sum_null_mean, null.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(full.mi_sum_null_std, null.std(axis=0), atol=1e-12)
    exact_p = (1 + (null >= full.mi_sum - 1e-10).sum(axis=0)) / 39
    np.testing.assert_allclose(full.p_value, exact_p, atol=1e-15)
    # fewer permutations than shifts: that many distinct shifts per neuron
    assert permutation_test(x, y, lag=1, permutations=10, seed=0).permutations == 10


@pytest.mark.parametrize("null", NULLS)
def test_null_equals_naive_per_draw_loop(null):
    """The stacked matrix-product null equals evaluating each permuted train separately."""
    rng = np.random.default_rng(8)
    x = bernoulli(rng, (2, 30, 5), 0.3)
    y = bernoulli(rng, (2, 30, 3), 0.3)
    p = 25
    res = permutation_test(x, y, lag=2, permutations=p, null=null, seed=3, chunk_elements=40)
    draws = np.random.default_rng(3)
    t_eff = 28
    sums, pairs = np.zeros((p, 3)), np.zeros((5, 3))
    if null == "circular_shift":
        offsets = draws.integers(0, t_eff, size=(p, 3, 2))
    for k in range(p):
        if null == "shuffle":
            order = draws.permuted(np.broadcast_to(np.arange(t_eff), (3, 2, t_eff)), axis=-1)
        y_perm = np.empty((2, t_eff, 3), np.uint8)
        for j in range(3):
            for r in range(2):
                src = y[r, 2:, j]
                y_perm[r, :, j] = (np.roll(src, -offsets[k, j, r]) if null == "circular_shift"
                                   else src[order[j, r]])
        mi = reference_matrix(x[:, :t_eff], y_perm, 0)
        sums[k] = mi.sum(axis=0)
        pairs += mi
    np.testing.assert_allclose(res.mi_null_mean, pairs / p, atol=1e-12)
    np.testing.assert_allclose(res.mi_sum_null_mean, sums.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(res.p_value, permutation_p_value(res.mi_sum, sums), atol=1e-15)


@pytest.mark.parametrize("null", NULLS)
def test_results_do_not_depend_on_chunking(null):
    rng = np.random.default_rng(9)
    x = bernoulli(rng, (60, 8), 0.2)
    y = bernoulli(rng, (60, 5), 0.2)
    a = permutation_test(x, y, 1, 50, null, seed=4)
    b = permutation_test(x, y, 1, 50, null, seed=4, chunk_elements=1)
    np.testing.assert_array_equal(a.p_value, b.p_value)
    np.testing.assert_allclose(a.mi_null_mean, b.mi_null_mean, rtol=1e-12, atol=1e-15)


def test_direct_evaluation_equals_lookup_table(monkeypatch):
    """Above the table size limit MI is evaluated directly, with bit-identical results."""
    from snninfo.information import estimators

    rng = np.random.default_rng(14)
    x = bernoulli(rng, (2, 50, 6), 0.3)
    y = bernoulli(rng, (2, 50, 4), 0.2)
    table = permutation_test(x, y, 1, 30, "shuffle", seed=2)
    monkeypatch.setattr(estimators, "_TABLE_LIMIT", 0)
    direct = permutation_test(x, y, 1, 30, "shuffle", seed=2)
    for field in ("mi", "mi_null_mean", "mi_sum_null_mean", "p_value"):
        np.testing.assert_array_equal(getattr(table, field), getattr(direct, field), field)


def test_silent_and_always_firing_outputs_and_inputs():
    rng = np.random.default_rng(10)
    x = bernoulli(rng, (100, 6), 0.3)
    x[:, 0] = 0  # silent input
    y = bernoulli(rng, (100, 3), 0.3)
    y[:, 0] = 0  # silent output
    y[:, 1] = 1  # always firing
    assert np.all(spike_entropy(y)[:2] == 0.0)
    for null in NULLS:
        res = permutation_test(x, y, lag=1, permutations=50, null=null, seed=0)
        for field in ("mi", "mi_miller_madow", "mi_null_mean", "mi_shuffle_corrected"):
            values = getattr(res, field)
            assert np.all(values[:, :2] == 0.0), field
            assert np.all(values[0] == 0.0), field
        np.testing.assert_array_equal(res.p_value[:2], 1.0)
        assert not res.significant(0.05)[:2].any()


def test_sample_without_output_spikes():
    rng = np.random.default_rng(11)
    x = bernoulli(rng, (80, 10), 0.2)
    res = permutation_test(x, np.zeros((80, 4), np.uint8), lag=1, permutations=20, seed=0)
    assert np.all(res.mi == 0) and np.all(res.mi_sum_null_mean == 0)
    np.testing.assert_array_equal(res.p_value, 1.0)
    assert not res.significant(0.05).any()


def test_invalid_inputs_raise():
    x = np.zeros((10, 2), np.uint8)
    with pytest.raises(ValueError, match="same number of time steps"):
        plugin_mi(x, np.zeros((9, 2), np.uint8))
    with pytest.raises(ValueError, match="same number of repeats"):
        plugin_mi(np.zeros((2, 10, 2)), np.zeros((3, 10, 2)))
    with pytest.raises(ValueError, match="0 <= lag < T"):
        plugin_mi(x, x, lag=10)
    with pytest.raises(ValueError, match="0 <= lag < T"):
        permutation_test(x, x, lag=-1)
    with pytest.raises(ValueError, match="only 0 and 1"):
        plugin_mi(x + 2, x)
    with pytest.raises(ValueError, match="null must be one of"):
        permutation_test(x, x, null="rotate")
    with pytest.raises(ValueError, match="permutations"):
        permutation_test(x, x, permutations=0)
    with pytest.raises(ValueError, match="at least 2 time pairs"):
        permutation_test(x, x, lag=9)


# ------------------------------------------------------------- multiple testing


def test_benjamini_hochberg_hand_example():
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    # sorted 0.005, 0.01, 0.03, 0.04, 0.5 vs k * 0.05 / 5 = 0.01, 0.02, 0.03, 0.04, 0.05:
    # the largest k with p_(k) <= k alpha / m is 4
    reject, q = benjamini_hochberg(p, 0.05)
    np.testing.assert_array_equal(reject, [True, True, True, True, False])
    np.testing.assert_allclose(q, [0.025, 0.05, 0.05, 0.025, 0.5])
    # step-up: p_(1) = 0.02 > 0.05 / 4, but p_(4) = 0.04 <= 0.05 rejects all four
    np.testing.assert_array_equal(benjamini_hochberg([0.02, 0.03, 0.035, 0.04], 0.05)[0], True)
    np.testing.assert_array_equal(benjamini_hochberg([0.03, 0.9], 0.05)[0], [False, False])
    two_d = benjamini_hochberg(np.array([p, [0.9] * 5]).T, 0.05, axis=0)[0]
    np.testing.assert_array_equal(two_d[:, 0], reject)
    assert not two_d[:, 1].any()


# --------------------------------------------------------------------- stimulus


def test_count_determining_class_carries_log2_10_bits():
    rng = np.random.default_rng(12)
    labels = np.repeat(np.arange(10), 300)
    counts = np.stack([
        labels * 3,  # determines the class (counts above the cap share one bin: 7, 8, 9 merge)
        labels,  # determines the class exactly
        rng.poisson(2.0, labels.size),  # unrelated
        np.zeros(labels.size, int),  # silent
    ], axis=1)
    res = count_information(counts, labels, permutations=200, seed=0)
    assert class_entropy(labels) == pytest.approx(math.log2(10))
    assert res.mi[1] == pytest.approx(math.log2(10), abs=1e-12)
    assert res.mi_shuffle_corrected[1] == pytest.approx(math.log2(10), abs=0.05)
    assert res.mi_miller_madow[1] == pytest.approx(math.log2(10), abs=0.05)
    assert res.mi[0] < res.mi[1]  # the cap (20) merges counts 21, 24, 27
    assert abs(res.mi_shuffle_corrected[2]) < 0.1 * res.mi[2]  # plug-in bias ~0.018 bits
    assert res.mi[3] == 0.0 and res.p_value[3] == 1.0
    np.testing.assert_array_equal(res.significant(0.05), [True, True, False, False])
    np.testing.assert_array_equal(bin_counts([0, 5, 20, 25], 20), [0, 5, 20, 20])


def test_prediction_information_counts_silent_as_a_category():
    rng = np.random.default_rng(13)
    labels = np.repeat(np.arange(10), 50)
    predictions = np.where(labels == 0, -1, labels)  # class 0 always silent: still decodable
    res = prediction_information(labels, predictions, permutations=100, seed=0)
    assert res.mi == pytest.approx(math.log2(10), abs=1e-12)
    assert res.p_value == pytest.approx(1 / 101)
    chance = prediction_information(labels, rng.integers(-1, 10, labels.size), 100, seed=0)
    assert chance.p_value > 0.05
    assert abs(chance.mi_shuffle_corrected) < 0.05 < chance.mi
