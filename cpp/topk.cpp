// Top-K selection over a block of score rows, with the users' seen items excluded.
#include "topk.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace fp {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// "a ranks before b": higher score first, lower item id breaks ties.
inline bool before(const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
}

}  // namespace

void mask_seen(float* scores, int64_t rows, int64_t m, const int32_t* users, const int64_t* indptr,
               const int32_t* indices, int n_threads) {
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        const int32_t u = users[r];
        if (u < 0) continue;
        float* row = scores + r * m;
        for (int64_t k = indptr[u]; k < indptr[u + 1]; ++k) row[indices[k]] = kNegInf;
    }
}

void topk_rows(const float* scores, int64_t rows, int64_t m, int k, int32_t* out_items, float* out_scores,
               int n_threads) {
#pragma omp parallel num_threads(n_threads)
    {
        std::vector<std::pair<float, int32_t>> heap;  // the worst kept entry sits at the front
        heap.reserve(static_cast<size_t>(k) + 1);
#pragma omp for schedule(dynamic, 16)
        for (int64_t r = 0; r < rows; ++r) {
            const float* row = scores + r * m;
            heap.clear();
            for (int64_t j = 0; j < m; ++j) {
                const float s = row[j];
                if (!(s > kNegInf)) continue;  // seen items and NaN never rank
                const std::pair<float, int32_t> cand(s, static_cast<int32_t>(j));
                if (static_cast<int>(heap.size()) < k) {
                    heap.push_back(cand);
                    std::push_heap(heap.begin(), heap.end(), before);
                } else if (before(cand, heap.front())) {
                    std::pop_heap(heap.begin(), heap.end(), before);
                    heap.back() = cand;
                    std::push_heap(heap.begin(), heap.end(), before);
                }
            }
            std::sort_heap(heap.begin(), heap.end(), before);
            int32_t* oi = out_items + r * k;
            float* os = out_scores + r * k;
            for (int x = 0; x < k; ++x) {
                const bool has = x < static_cast<int>(heap.size());
                oi[x] = has ? heap[static_cast<size_t>(x)].second : -1;
                os[x] = has ? heap[static_cast<size_t>(x)].first : kNegInf;
            }
        }
    }
}

void rank_items(const float* scores, int64_t rows, int64_t m, const int32_t* query, int t, int32_t* out_ranks,
                int n_threads) {
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        const float* row = scores + r * m;
        for (int x = 0; x < t; ++x) {
            const int32_t q = query[r * t + x];
            const float s = row[q];
            int32_t rank = -1;
            if (s > kNegInf) {
                rank = 1;
                for (int64_t j = 0; j < m; ++j) {
                    const float o = row[j];
                    rank += (o > s) | ((o == s) & (j < q));
                }
            }
            out_ranks[r * t + x] = rank;
        }
    }
}

}  // namespace fp
