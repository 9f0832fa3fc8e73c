// TCD agreement: project two models' scores onto the grid, keep unrated agreeing pairs, sample.
#include "agreement.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common.hpp"

namespace fp {
namespace {

// Grid level of a score, or -1 when the score is not finite.
inline int level(float x, const Grid& g) {
    if (!std::isfinite(x)) return -1;
    const float k = std::floor((x - g.low) / g.step + 0.5f);
    return static_cast<int>(std::clamp(k, 0.0f, static_cast<float>(g.levels - 1)));
}

// Visits row r's kept pairs in item order: emit(item, level).
template <class Emit>
FP_HOT void row_pairs(const ScorePair& s, const AgreementRule& rule, int64_t r, Emit&& emit) {
    const float* a = s.a + r * s.m;
    const float* b = s.b + r * s.m;
    const int32_t user = s.users[r];
    const Grid& g = rule.grid;
    Rng rng = Rng::stream(rule.seed, static_cast<uint64_t>(user));
    const int32_t* seen = s.indices + s.indptr[user];
    const int32_t* seen_end = s.indices + s.indptr[user + 1];
    for (int64_t i = 0; i < s.m; ++i) {
        while (seen != seen_end && *seen < i) ++seen;
        if (seen != seen_end && *seen == i) continue;
        const int la = level(a[i], g);
        if (la < 0 || la != level(b[i], g)) continue;
        if (rule.ratio < 1.0f && !(rng.uniform() < rule.ratio)) continue;
        emit(static_cast<int32_t>(i), la);
    }
}

}  // namespace

std::vector<int64_t> agreement_offsets(const ScorePair& s, const AgreementRule& rule, int n_threads) {
    std::vector<int64_t> offsets(static_cast<size_t>(s.rows) + 1, 0);
    const int threads = clamp_threads(n_threads);
    (void)threads;
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads)
    for (int64_t r = 0; r < s.rows; ++r) {
        int64_t count = 0;
        row_pairs(s, rule, r, [&](int32_t, int) { ++count; });
        offsets[static_cast<size_t>(r) + 1] = count;
    }
    for (size_t r = 0; r < static_cast<size_t>(s.rows); ++r) offsets[r + 1] += offsets[r];
    return offsets;
}

void agreement_fill(const ScorePair& s, const AgreementRule& rule, const std::vector<int64_t>& offsets,
                    int32_t* out_users, int32_t* out_items, float* out_ratings, int n_threads) {
    const int threads = clamp_threads(n_threads);
    (void)threads;
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads)
    for (int64_t r = 0; r < s.rows; ++r) {
        int64_t k = offsets[static_cast<size_t>(r)];
        row_pairs(s, rule, r, [&](int32_t item, int lv) {
            out_users[k] = s.users[r];
            out_items[k] = item;
            out_ratings[k] = rule.grid.low + rule.grid.step * static_cast<float>(lv);
            ++k;
        });
    }
}

}  // namespace fp
