// Ranking kernels over blocks of dense score rows (rows x m, C order).
#pragma once

#include <cstdint>

namespace fp {

// Set the scores of each row's seen items (CSR of users[r]; users[r] < 0 means none) to -inf.
void mask_seen(float* scores, int64_t rows, int64_t m, const int32_t* users, const int64_t* indptr,
               const int32_t* indices, int n_threads);

// The k best items of each row, best first (ties: lower item id first). Items scored -inf or
// NaN are never chosen; rows with fewer candidates are padded with item -1, score -inf.
void topk_rows(const float* scores, int64_t rows, int64_t m, int k, int32_t* out_items, float* out_scores,
               int n_threads);

// 1-based rank of each queried item among the row's scored items (same tie rule), -1 when masked.
void rank_items(const float* scores, int64_t rows, int64_t m, const int32_t* query, int t, int32_t* out_ranks,
                int n_threads);

}  // namespace fp
