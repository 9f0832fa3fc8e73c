// LightGCN (He et al. 2020): embeddings propagated over the normalised user-item graph,
// trained by BPR with dense Adam on the ego (layer-0) embeddings.
#pragma once

#include <cstdint>
#include <vector>

#include "adam.hpp"
#include "bpr_triples.hpp"
#include "huge_pages.hpp"

namespace fp {

// The bipartite graph of interactions (users[k], items[k]) both ways, with each node's
// deg^-1/2 (0 when isolated): A_hat = D^-1/2 A D^-1/2 of the (n_users + n_items) adjacency
// A. A pair given twice is an edge of weight 2.
struct BipartiteGraph {
    int64_t n_users, n_items;
    std::vector<int64_t> user_ptr, item_ptr;
    std::vector<int32_t> user_items, item_users;
    std::vector<float> user_norm, item_norm;

    BipartiteGraph(const int32_t* users, const int32_t* items, int64_t n, int64_t n_users, int64_t n_items);
};

// Users' and items' embeddings: rows of d floats.
struct Embeddings {
    float* users;
    float* items;
};

// Rows of each side, each side's in increasing order.
struct RowSubset {
    std::vector<int32_t> users, items;
};

// Layer-mean propagation over a graph, with its scratch kept between calls.
class Propagation {
public:
    Propagation(const BipartiteGraph& g, int d, int layers, int n_threads);

    // out = 1/(L+1) sum_{l=0..L} A_hat^l src (src and out must not overlap). A_hat is
    // symmetric, so the same map takes a gradient w.r.t. the propagated embeddings back to
    // one w.r.t. src. Rows are summed each by one thread: the same result for any thread count.
    // With `last`, only its rows are complete: the others of out lack the last layer's term.
    void mean(const float* src_users, const float* src_items, float* out_users, float* out_items,
              const RowSubset* last = nullptr);

private:
    const BipartiteGraph& g_;
    int d_, layers_, threads_;
    HugePageFloats ping_, pong_;  // D^-1/2 E_l, users' rows then items' (read at random: huge pages)
};

// A batch of triples (users[k], pos[k], neg[k]), k < n.
struct Triples {
    const int32_t* users;
    const int32_t* pos;
    const int32_t* neg;
    int64_t n;
};

// LightGCN's batch loss over a graph, with its scratch kept between batches.
class LightGcnLoss {
public:
    LightGcnLoss(const BipartiteGraph& g, int d, int layers, int n_threads);

    // The summed -log sigmoid(f_u . (f_i - f_j)) of the triples on the propagated embeddings
    // f of `ego`, and into `grad` (overwritten) the gradient w.r.t. the ego embeddings of the
    // batch loss: that sum / n plus reg/2 (|e_u|^2 + |e_i|^2 + |e_j|^2) / n over the triples.
    double loss_grad(const Embeddings& ego, const Triples& t, float reg, const Embeddings& grad);

private:
    Propagation prop_;
    int64_t n_users_;
    int d_;
    std::vector<float> f_, g_;  // propagated embeddings and the gradient w.r.t. them, users' rows first
    std::vector<uint8_t> user_mark_, item_mark_;  // all 0 between calls
    RowSubset batch_rows_;  // the batch's users and items (positives and negatives)
};

// The mean loss of the triples (LightGcnLoss's sum / n plus the L2 term) and its gradient
// w.r.t. the ego embeddings into `grad`, on one thread: the reference the tests hold the
// epoch's arithmetic to.
double lightgcn_loss_grad(const BipartiteGraph& g, int d, int layers, const Embeddings& ego, const Triples& t,
                          float reg, const Embeddings& grad);

// One epoch of LightGCN on `graph`: the positives x in a seeded order in mini-batches of
// `batch`, each with one negative drawn uniformly among the items its user has not seen (as
// BPR-MF); per batch, full propagation over `graph` forward and back and dense Adam on every
// ego row at steps step+1, ...; `step` is advanced; m and v are Adam's moments, laid out as
// `ego`. Returns the summed -log sigmoid over the epoch (users who have seen every item give
// no sample). The graph is usually the positives' own; TCD's pseudo-labels are positives
// outside it.
double lightgcn_adam_epoch(const BipartiteGraph& graph, const Embeddings& ego, const Embeddings& m,
                           const Embeddings& v, int d, int layers, const Interactions& x, int64_t batch, float reg,
                           const AdamConfig& cfg, int64_t& step, int n_threads, uint64_t seed);

}  // namespace fp
