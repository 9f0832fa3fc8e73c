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

using Entry = std::pair<float, int32_t>;

// "a ranks before b": higher score first, lower item id breaks ties.
inline bool before(const Entry& a, const Entry& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
}

// `kept` = the row's best min(k, scored entries), best first, by one pass keeping a heap of k.
void heap_top(const float* row, int64_t m, int k, std::vector<Entry>& kept) {
    kept.clear();  // a heap whose front is the worst entry kept
    for (int64_t j = 0; j < m; ++j) {
        const float s = row[j];
        if (!(s > kNegInf)) continue;  // seen items and NaN never rank
        const Entry cand(s, static_cast<int32_t>(j));
        if (static_cast<int>(kept.size()) < k) {
            kept.push_back(cand);
            std::push_heap(kept.begin(), kept.end(), before);
        } else if (before(cand, kept.front())) {
            std::pop_heap(kept.begin(), kept.end(), before);
            kept.back() = cand;
            std::push_heap(kept.begin(), kept.end(), before);
        }
    }
    std::sort_heap(kept.begin(), kept.end(), before);
}

constexpr int64_t kSample = 1024;        // scores sampled (evenly spaced) to place the threshold
constexpr int64_t kMinSampledAbove = 8;  // sampled scores kept above the threshold, at least
constexpr int64_t kChunk = 64;           // scores per chunk of the collecting pass

// The same as heap_top when the row has enough scored entries, found faster: a threshold is
// set from an evenly spaced sample so that about 2k entries reach it, the entries at or above
// it are collected in one pass and the best k of them sorted. Returns false, with `kept`
// unspecified, when the sample says the row is too small or too masked for that, or when
// fewer than k entries reached the threshold; the caller then takes heap_top.
bool above_sampled_threshold(const float* row, int64_t m, int k, std::vector<Entry>& sample,
                             std::vector<Entry>& kept) {
    if (m < 2 * kSample || static_cast<int64_t>(k) * 8 > m) return false;
    const int64_t stride = m / kSample;
    sample.clear();
    for (int64_t j = 0; j < m; j += stride)
        if (row[j] > kNegInf) sample.emplace_back(row[j], static_cast<int32_t>(j));
    const int64_t n = static_cast<int64_t>(sample.size());
    // Entries per sampled entry ~ stride, so the t-th best sampled score has ~t * stride above it.
    const int64_t t = std::max(kMinSampledAbove, (2 * static_cast<int64_t>(k) + stride - 1) / stride);
    if (t > n) return false;
    std::nth_element(sample.begin(), sample.begin() + (t - 1), sample.end(), before);
    const float threshold = sample[static_cast<size_t>(t - 1)].first;
    kept.clear();
    for (int64_t a = 0; a < m; a += kChunk) {  // chunks counted with vector compares, most hold none
        const int64_t b = std::min(m, a + kChunk);
        int hits = 0;
#pragma omp simd reduction(+ : hits)
        for (int64_t j = a; j < b; ++j) hits += row[j] >= threshold;
        if (hits == 0) continue;
        for (int64_t j = a; j < b; ++j)
            if (row[j] >= threshold) kept.emplace_back(row[j], static_cast<int32_t>(j));
    }
    if (static_cast<int64_t>(kept.size()) < k) return false;
    std::nth_element(kept.begin(), kept.begin() + (k - 1), kept.end(), before);
    kept.resize(static_cast<size_t>(k));
    std::sort(kept.begin(), kept.end(), before);
    return true;
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
        std::vector<Entry> kept, sample;
#pragma omp for schedule(dynamic, 16)
        for (int64_t r = 0; r < rows; ++r) {
            const float* row = scores + r * m;
            if (!above_sampled_threshold(row, m, k, sample, kept)) heap_top(row, m, k, kept);
            int32_t* oi = out_items + r * k;
            float* os = out_scores + r * k;
            for (int x = 0; x < k; ++x) {
                const bool has = x < static_cast<int>(kept.size());
                oi[x] = has ? kept[static_cast<size_t>(x)].second : -1;
                os[x] = has ? kept[static_cast<size_t>(x)].first : kNegInf;
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
