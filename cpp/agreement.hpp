// TCD's pseudo-labels: unrated pairs on which two models agree once projected onto the rating grid.
#pragma once

#include <cstdint>
#include <vector>

namespace fp {

// What a score more than half a step outside the grid projects to: `extend`, the level
// beyond the ends it rounds to (low + k * step for any integer k, as the TCD code's
// round(x * max) / max, so a score near 0 on a 1..max scale projects to 0); `clamp`, the
// nearest end's level; `drop`, no level (it agrees with nothing).
enum class Ends : uint8_t { extend, clamp, drop };

// The rating grid low, low + step, ..., low + (levels - 1) * step, and its `ends`.
struct Grid {
    float low, step;
    int levels;
    Ends ends = Ends::extend;
};

// Two models' scores for a block of users: rows r < rows (m items each, C order) belong to
// users[r], whose rated items are CSR row users[r] of (indptr, indices).
struct ScorePair {
    const float *a, *b;
    int64_t rows, m;
    const int32_t* users;
    const int64_t* indptr;
    const int32_t* indices;
};

// A pair (users[r], i) is kept when i is unrated, both scores are finite and project to the
// same level (`grid.ends` says how scores outside the grid project; with `extend`, levels
// beyond +-32767 count as none), and a Bernoulli(ratio) draw from the user's own random stream (seeded by
// seed and the user id, so independent of blocks and threads) accepts it.
struct AgreementRule {
    Grid grid;
    float ratio;
    uint64_t seed;
};

// Each row's kept pairs: item ids ascending and their levels k (the rating low + k * step).
struct RowPairs {
    std::vector<int32_t> items;
    std::vector<int16_t> levels;
};

// The kept pairs of every row (OpenMP over rows). Grids of at most 256 levels.
std::vector<RowPairs> agreement_rows(const ScorePair& s, const AgreementRule& rule, int n_threads);

// Every user's unrated items (CSR `rated` over `n_items` columns), each kept with
// probability `ratio` by a draw from the user's own stream of `seed`: per user, item ids
// ascending. Costs O(rated + kept), not O(users x items) (geometric gaps between kept items).
std::vector<std::vector<int32_t>> sample_unrated(const int64_t* indptr, const int32_t* indices, int64_t n_users,
                                                 int64_t n_items, double ratio, uint64_t seed, int n_threads);

}  // namespace fp
