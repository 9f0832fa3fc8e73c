// TCD agreement: project two models' scores onto the grid, keep unrated agreeing pairs, sample.
#include "agreement.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "common.hpp"

namespace fp {
namespace {

// Grid level of each score as a float: NaN where the score is not finite or, as `g.ends`
// says, has no level. Branch-free so that the loop vectorises.
FP_HOT void levels_of(const float* x, int64_t m, const Grid& g, float* out) {
    constexpr float widest = 32767.0f;  // the levels a RowPairs entry holds
    const float inv = 1.0f / g.step, top = static_cast<float>(g.levels - 1);
    const float lo = g.ends == Ends::extend ? -widest : 0.0f, hi = g.ends == Ends::extend ? widest : top;
    const bool clamp = g.ends == Ends::clamp;
    for (int64_t i = 0; i < m; ++i) {
        const float k = std::floor((x[i] - g.low) * inv + 0.5f);
        const float clamped = std::min(std::max(k, lo), hi);
        const bool has_level = (x[i] - x[i] == 0.0f) && (clamp || k == clamped);
        out[i] = has_level ? clamped : std::numeric_limits<float>::quiet_NaN();
    }
}

// Row r's kept pairs, using `la`, `lb` (m floats each) as scratch.
FP_HOT void row_pairs(const ScorePair& s, const AgreementRule& rule, int64_t r, float* la, float* lb, RowPairs& out) {
    levels_of(s.a + r * s.m, s.m, rule.grid, la);
    levels_of(s.b + r * s.m, s.m, rule.grid, lb);
    const int32_t user = s.users[r];
    constexpr float rated = std::numeric_limits<float>::quiet_NaN();  // equal to nothing
    for (int64_t x = s.indptr[user]; x < s.indptr[user + 1]; ++x) la[s.indices[x]] = rated;
    Rng rng = Rng::stream(rule.seed, static_cast<uint64_t>(user));
    for (int64_t i = 0; i < s.m; ++i) {
        if (!(la[i] == lb[i])) continue;
        if (rule.ratio < 1.0f && !(rng.uniform() < rule.ratio)) continue;
        out.items.push_back(static_cast<int32_t>(i));
        out.levels.push_back(static_cast<int16_t>(la[i]));
    }
}

// The next kept item after `i` (or beyond `m`): a geometric gap with success probability
// `ratio`, from `u` uniform in (0, 1]; `log_keep_not` = log(1 - ratio) < 0.
inline int64_t next_kept(int64_t i, double u, double log_keep_not) {
    const double gap = std::floor(std::log(u) / log_keep_not);
    return gap >= 9.0e18 ? std::numeric_limits<int64_t>::max() : i + 1 + static_cast<int64_t>(gap);
}

}  // namespace

std::vector<std::vector<int32_t>> sample_unrated(const int64_t* indptr, const int32_t* indices, int64_t n_users,
                                                 int64_t n_items, double ratio, uint64_t seed, int n_threads) {
    std::vector<std::vector<int32_t>> rows(static_cast<size_t>(n_users));
    const double log_keep_not = ratio < 1.0 ? std::log1p(-ratio) : -std::numeric_limits<double>::infinity();
    const int threads = clamp_threads(n_threads);
    (void)threads;
#pragma omp parallel num_threads(threads)
    {
        std::vector<uint8_t> rated(static_cast<size_t>(n_items), 0);
#pragma omp for schedule(dynamic, 64)
        for (int64_t u = 0; u < n_users; ++u) {
            for (int64_t x = indptr[u]; x < indptr[u + 1]; ++x) rated[static_cast<size_t>(indices[x])] = 1;
            Rng rng = Rng::stream(seed, static_cast<uint64_t>(u));
            auto& out = rows[static_cast<size_t>(u)];
            const auto draw = [&] { return 1.0 - static_cast<double>(rng.next() >> 11) * 0x1.0p-53; };  // (0, 1]
            for (int64_t i = next_kept(-1, draw(), log_keep_not); i < n_items; i = next_kept(i, draw(), log_keep_not))
                if (!rated[static_cast<size_t>(i)]) out.push_back(static_cast<int32_t>(i));
            for (int64_t x = indptr[u]; x < indptr[u + 1]; ++x) rated[static_cast<size_t>(indices[x])] = 0;
        }
    }
    return rows;
}

std::vector<RowPairs> agreement_rows(const ScorePair& s, const AgreementRule& rule, int n_threads) {
    std::vector<RowPairs> rows(static_cast<size_t>(s.rows));
    const int threads = clamp_threads(n_threads);
    (void)threads;
#pragma omp parallel num_threads(threads)
    {
        std::vector<float> la(static_cast<size_t>(s.m)), lb(static_cast<size_t>(s.m));
#pragma omp for schedule(dynamic, 8)
        for (int64_t r = 0; r < s.rows; ++r) row_pairs(s, rule, r, la.data(), lb.data(), rows[static_cast<size_t>(r)]);
    }
    return rows;
}

}  // namespace fp
