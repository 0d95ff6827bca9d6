// Word2VecSgd: one batch of word2vec.c's SGD, applied in place on the two embedding tables.
//
// The op walks the batch's examples in order (Hogwild across examples when it runs on several threads of
// TF's intra-op pool) and, for every (input, target) pair, does what word2vec.c's TrainModelThread does:
//
//   h      = the input vector (skip-gram: the context word's row E[x]; CBOW: Σ_i w_i E[x_i])
//   e      = 0
//   for each target row u of the pair (the positive and the negatives, or the Huffman path's nodes):
//       z  = h·u (+ b - log(k·Pn) for NCE)
//       g  = (label - σ(z)) · lr                (DS: (label - softmax_z) · lr)
//       e += g · u ;  u += g · h                (b += g for NCE)
//   E[x] += e                                   (CBOW: every context row gets the full e)
//
// σ is word2vec.c's: clamped to 0/1 outside [-6, 6] (HS skips such nodes, as word2vec.c does), read from
// a table with linear interpolation. A negative equal to the positive is skipped. Every id the step reads
// (the batch's ids, the noise ids it may draw, the Huffman paths of its targets) is checked before any write:
// a bad id raises InvalidArgument and leaves the tables untouched. The loss (a table softplus, accumulated in
// float) is returned per example, weighted by the label weights like the generic path's ``L_b = Σ_t w_bt ℓ_t``.

#define EIGEN_USE_THREADS

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/resource_mgr.h"
#include "tensorflow/core/framework/resource_var.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/util/work_sharder.h"

namespace tfw2v {

using tensorflow::DEVICE_CPU;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::Var;
using tensorflow::errors::InvalidArgument;

REGISTER_OP("Word2VecSgd")
    .Input("input_table: resource")
    .Input("output_table: resource")
    .Input("output_bias: num_bias * resource")
    .Input("inputs: int32")
    .Input("input_weights: float")
    .Input("labels: int32")
    .Input("label_weights: float")
    .Input("negatives: int32")
    .Input("learning_rate: float")
    .Input("logit_offset: float")
    .Input("hs_points: int32")
    .Input("hs_codes: int32")
    .Input("hs_lengths: int32")
    .Input("noise_threshold: float")
    .Input("noise_alias: int32")
    .Input("seed: int64")
    .Output("loss: float")
    .Attr("architecture: {'skipgram', 'cbow'}")
    .Attr("objective: {'ns', 'nce', 'ds', 'hs'}")
    .Attr("num_bias: int >= 0 = 0")
    .Attr("max_threads: int >= 0 = 0")
    .Attr("pair_negatives: int >= 0 = 0")
    .SetIsStateful()
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      int num_bias = 0;
      TF_RETURN_IF_ERROR(c->GetAttr("num_bias", &num_bias));
      c->set_output(0, c->Vector(c->Dim(c->input(2 + num_bias), 0)));
      return absl::OkStatus();
    })
    .Doc(R"doc(
One batch of word2vec.c's sequential SGD, in place on input_table [V, D] and output_table [V, D] (and the
NCE biases [V]). Returns the per-example loss [B]. With pair_negatives = K > 0 the op draws K fresh noise ids
for every (input, target) pair from the alias tables noise_threshold/noise_alias [V], keyed by seed [2], and
negatives must be [B, 0]; with 0 it uses the given negatives [B, K], shared by an example's pairs.
)doc");

namespace {

constexpr float kMaxExp = 6.0f;     // word2vec.c's MAX_EXP: σ is 0 or 1 beyond it
constexpr int kSigmoidSteps = 2048;  // table intervals over [-kMaxExp, kMaxExp]
constexpr float kMaxSoftplus = 16.0f;
constexpr int kSoftplusSteps = 4096;

// f sampled on [-limit, limit] in `steps` intervals, read with linear interpolation.
class InterpolatedTable {
 public:
  template <typename F>
  InterpolatedTable(float limit, int steps, F f) : limit_(limit), scale_(steps / (2 * limit)), values_(steps + 2) {
    for (int i = 0; i <= steps; ++i) values_[i] = static_cast<float>(f(-limit + 2.0 * limit * i / steps));
    values_[steps + 1] = values_[steps];
  }
  // Requires -limit <= x <= limit.
  inline float operator()(float x) const {
    const float t = (x + limit_) * scale_;
    const int i = static_cast<int>(t);
    const float frac = t - i;
    return values_[i] + frac * (values_[i + 1] - values_[i]);
  }
  float limit() const { return limit_; }

 private:
  float limit_, scale_;
  std::vector<float> values_;
};

const InterpolatedTable kSigmoidTable(kMaxExp, kSigmoidSteps, [](double x) { return 1.0 / (1.0 + std::exp(-x)); });
const InterpolatedTable kSoftplusTable(kMaxSoftplus, kSoftplusSteps, [](double x) {
  return std::log1p(std::exp(-std::fabs(x))) + std::max(x, 0.0);
});

// word2vec.c's clamped sigmoid.
inline float Sigmoid(float z) {
  if (z >= kMaxExp) return 1.0f;
  if (z <= -kMaxExp) return 0.0f;
  return kSigmoidTable(z);
}

inline float Softplus(float z) {
  if (z >= kMaxSoftplus) return z;
  if (z <= -kMaxSoftplus) return 0.0f;
  return kSoftplusTable(z);
}

inline float Dot(const float* __restrict a, const float* __restrict b, int n) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// e += g·u, then u += g·h: one pass over the target row.
inline void UpdateTarget(float g, const float* __restrict h, float* __restrict u, float* __restrict e, int n) {
#pragma omp simd
  for (int i = 0; i < n; ++i) {
    const float old = u[i];
    e[i] += g * old;
    u[i] = old + g * h[i];
  }
}

inline void PrefetchRow(const float* row, int n) {
  const char* bytes = reinterpret_cast<const char*>(row);
  const int size = n * static_cast<int>(sizeof(float));
  for (int offset = 0; offset < size; offset += 64) __builtin_prefetch(bytes + offset, 1, 3);
}

inline void Axpy(float g, const float* __restrict x, float* __restrict y, int n) {
#pragma omp simd
  for (int i = 0; i < n; ++i) y[i] += g * x[i];
}

// splitmix64's output function (Steele, Lea & Flood 2014): a bijective mix of a 64-bit counter.
inline uint64_t Mix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Counter-based noise draws from Walker's alias tables: draw n of a step keyed by `key` is a function of
// (key, n) alone, so it does not depend on how the batch is split among threads.
//   r = Mix(key + n·φ), bucket = ⌊(r >> 32)·V / 2³²⌋, u = (r mod 2²⁴) / 2²⁴,
//   id = bucket if u < threshold[bucket] else alias[bucket].
struct NoiseSampler {
  const float* threshold;  // [V]
  const int32_t* alias;    // [V]
  uint64_t vocab;
  uint64_t key;

  inline int32_t Draw(uint64_t n) const {
    const uint64_t r = Mix(key + n * 0x9E3779B97F4A7C15ULL);
    const uint64_t bucket = ((r >> 32) * vocab) >> 32;
    const float u = static_cast<float>(r & 0xFFFFFFULL) * (1.0f / 16777216.0f);
    return u < threshold[bucket] ? static_cast<int32_t>(bucket) : alias[bucket];
  }
};

enum class Objective { kNs, kNce, kDs, kHs };

Objective ParseObjective(const std::string& name) {
  if (name == "nce") return Objective::kNce;
  if (name == "ds") return Objective::kDs;
  if (name == "hs") return Objective::kHs;
  return Objective::kNs;
}

// Everything one pair needs besides its input vector: the tables and the batch's read-only tensors.
struct Tables {
  float* output;           // [V, D]
  float* bias;             // [V] or nullptr
  const float* offset;     // [V] or nullptr: log(k·Pn(w)), subtracted from the logits
  const int32_t* points;   // [V, L] Huffman inner nodes
  const int32_t* codes;    // [V, L]
  const int32_t* lengths;  // [V]
  int path_width;          // L
  int dim;                 // D
};

// Logistic objectives (NS, NCE): sequential updates of the positive then each negative ≠ positive.
inline float LogisticPair(const Tables& t, const float* h, int32_t positive, const int32_t* negatives, int k,
                          float lr, float* e) {
  float loss = 0.0f;
  for (int j = -1; j < k; ++j) {
    const int32_t target = j < 0 ? positive : negatives[j];
    if (j >= 0 && target == positive) continue;
    float* u = t.output + static_cast<int64_t>(target) * t.dim;
    float z = Dot(h, u, t.dim);
    if (t.bias != nullptr) z += t.bias[target];
    if (t.offset != nullptr) z -= t.offset[target];
    const float label = j < 0 ? 1.0f : 0.0f;
    const float g = (label - Sigmoid(z)) * lr;
    loss += Softplus(j < 0 ? -z : z);
    UpdateTarget(g, h, u, e, t.dim);
    if (t.bias != nullptr) t.bias[target] += g;
  }
  return loss;
}

// "Downsampled" softmax over the positive and the negatives ≠ positive: scores first, then the updates.
inline float SoftmaxPair(const Tables& t, const float* h, int32_t positive, const int32_t* negatives, int k,
                         float lr, float* e, std::vector<int32_t>& candidates, std::vector<float>& scores) {
  candidates.clear();
  scores.clear();
  candidates.push_back(positive);
  for (int j = 0; j < k; ++j)
    if (negatives[j] != positive) candidates.push_back(negatives[j]);
  float top = -INFINITY;
  for (int32_t c : candidates) {
    scores.push_back(Dot(h, t.output + static_cast<int64_t>(c) * t.dim, t.dim));
    top = std::max(top, scores.back());
  }
  float total = 0.0f;
  for (float& s : scores) total += (s = std::exp(s - top));
  const float positive_score = std::log(scores[0]) + top;
  const float loss = std::log(total) + top - positive_score;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const float g = ((i == 0 ? 1.0f : 0.0f) - scores[i] / total) * lr;
    UpdateTarget(g, h, t.output + static_cast<int64_t>(candidates[i]) * t.dim, e, t.dim);
  }
  return loss;
}

// Hierarchical softmax along the positive's Huffman path; nodes with |z| >= MAX_EXP are not updated.
inline float HuffmanPair(const Tables& t, const float* h, int32_t positive, float lr, float* e) {
  float loss = 0.0f;
  const int32_t* points = t.points + static_cast<int64_t>(positive) * t.path_width;
  const int32_t* codes = t.codes + static_cast<int64_t>(positive) * t.path_width;
  for (int j = 0; j < t.lengths[positive]; ++j) {
    float* u = t.output + static_cast<int64_t>(points[j]) * t.dim;
    const float z = Dot(h, u, t.dim);
    loss += Softplus(codes[j] ? z : -z);
    if (z <= -kMaxExp || z >= kMaxExp) continue;
    const float g = (1.0f - codes[j] - kSigmoidTable(z)) * lr;
    UpdateTarget(g, h, u, e, t.dim);
  }
  return loss;
}

class Word2VecSgdOp : public OpKernel {
 public:
  explicit Word2VecSgdOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    std::string architecture, objective;
    OP_REQUIRES_OK(ctx, ctx->GetAttr("architecture", &architecture));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("objective", &objective));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("num_bias", &num_bias_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("max_threads", &max_threads_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("pair_negatives", &pair_negatives_));
    skipgram_ = architecture == "skipgram";
    objective_ = ParseObjective(objective);
    OP_REQUIRES(ctx, num_bias_ == (objective_ == Objective::kNce ? 1 : 0),
                InvalidArgument("num_bias must be 1 for nce and 0 otherwise, got ", num_bias_));
  }

  void Compute(OpKernelContext* ctx) override {
    const int first = 2 + num_bias_;
    const Tensor& inputs = ctx->input(first);
    const Tensor& input_weights = ctx->input(first + 1);
    const Tensor& labels = ctx->input(first + 2);
    const Tensor& label_weights = ctx->input(first + 3);
    const Tensor& negatives = ctx->input(first + 4);
    const Tensor& learning_rate = ctx->input(first + 5);
    const Tensor& offset = ctx->input(first + 6);
    const Tensor& points = ctx->input(first + 7);
    const Tensor& codes = ctx->input(first + 8);
    const Tensor& lengths = ctx->input(first + 9);
    const Tensor& noise_threshold = ctx->input(first + 10);
    const Tensor& noise_alias = ctx->input(first + 11);
    const Tensor& seed = ctx->input(first + 12);

    OP_REQUIRES(ctx, inputs.dims() == 2 && labels.dims() == 2 && negatives.dims() == 2,
                InvalidArgument("inputs, labels and negatives must be rank 2"));
    OP_REQUIRES(ctx, inputs.shape() == input_weights.shape() && labels.shape() == label_weights.shape(),
                InvalidArgument("inputs/input_weights and labels/label_weights must have equal shapes, got ",
                                inputs.shape().DebugString(), " ", input_weights.shape().DebugString(), " ",
                                labels.shape().DebugString(), " ", label_weights.shape().DebugString()));
    const int64_t batch = inputs.dim_size(0);
    OP_REQUIRES(ctx, labels.dim_size(0) == batch && negatives.dim_size(0) == batch,
                InvalidArgument("inputs, labels and negatives must have the same batch size"));
    OP_REQUIRES(ctx, skipgram_ ? inputs.dim_size(1) == 1 : labels.dim_size(1) == 1,
                InvalidArgument(skipgram_ ? "skip-gram inputs must be [B, 1] (the centre word)"
                                          : "CBOW labels must be [B, 1] (the centre word)"));
    OP_REQUIRES(ctx, tensorflow::TensorShapeUtils::IsScalar(learning_rate.shape()),
                InvalidArgument("learning_rate must be a scalar"));

    tensorflow::core::RefCountPtr<Var> input_var, output_var, bias_var;
    OP_REQUIRES_OK(ctx, LookupResource(ctx, HandleFromInput(ctx, 0), &input_var));
    OP_REQUIRES_OK(ctx, LookupResource(ctx, HandleFromInput(ctx, 1), &output_var));
    if (num_bias_) OP_REQUIRES_OK(ctx, LookupResource(ctx, HandleFromInput(ctx, 2), &bias_var));

    tensorflow::mutex_lock input_lock(*input_var->mu());
    tensorflow::mutex_lock output_lock(*output_var->mu());
    std::unique_ptr<tensorflow::mutex_lock> bias_lock;
    if (num_bias_) bias_lock = std::make_unique<tensorflow::mutex_lock>(*bias_var->mu());

    Tensor* input_table = input_var->tensor();
    Tensor* output_table = output_var->tensor();
    OP_REQUIRES(ctx, input_var->is_initialized && output_var->is_initialized,
                tensorflow::errors::FailedPrecondition("the embedding tables are not initialized"));
    OP_REQUIRES(ctx, input_table->dtype() == tensorflow::DT_FLOAT && output_table->dtype() == tensorflow::DT_FLOAT,
                InvalidArgument("the embedding tables must be float32"));
    OP_REQUIRES(ctx, input_table->dims() == 2 && input_table->shape() == output_table->shape(),
                InvalidArgument("input and output tables must both be [V, D], got ",
                                input_table->shape().DebugString(), " and ", output_table->shape().DebugString()));
    const int64_t vocab = input_table->dim_size(0);
    const int dim = static_cast<int>(input_table->dim_size(1));

    Tables t{};
    t.dim = dim;
    NoiseSampler noise{};
    if (num_bias_) {
      OP_REQUIRES(ctx, bias_var->tensor()->dtype() == tensorflow::DT_FLOAT &&
                           bias_var->tensor()->shape() == TensorShape({vocab}),
                  InvalidArgument("output_bias must be float32 [V]"));
    }
    if (objective_ == Objective::kNce) {
      OP_REQUIRES(ctx, offset.shape() == TensorShape({vocab}), InvalidArgument("logit_offset must be [V] for nce"));
      t.offset = offset.flat<float>().data();
    }
    if (objective_ == Objective::kHs) {
      OP_REQUIRES(ctx, points.dims() == 2 && points.dim_size(0) == vocab && points.shape() == codes.shape() &&
                           lengths.shape() == TensorShape({vocab}),
                  InvalidArgument("hs_points and hs_codes must be [V, L] and hs_lengths [V]"));
      t.points = points.flat<int32_t>().data();
      t.codes = codes.flat<int32_t>().data();
      t.lengths = lengths.flat<int32_t>().data();
      t.path_width = static_cast<int>(points.dim_size(1));
    } else if (pair_negatives_ > 0) {
      OP_REQUIRES(ctx, negatives.dim_size(1) == 0,
                  InvalidArgument("with pair_negatives > 0 the op draws the negatives: negatives must be [B, 0]"));
      OP_REQUIRES(ctx, noise_threshold.shape() == TensorShape({vocab}) && noise_alias.shape() == TensorShape({vocab}),
                  InvalidArgument("pair_negatives needs noise_threshold and noise_alias of shape [V]"));
      OP_REQUIRES(ctx, seed.shape() == TensorShape({2}), InvalidArgument("seed must be [2]"));
      OP_REQUIRES_OK(ctx, CheckIds(noise_alias, vocab, "noise_alias"));
      const auto s = seed.flat<int64_t>();
      noise = NoiseSampler{noise_threshold.flat<float>().data(), noise_alias.flat<int32_t>().data(),
                            static_cast<uint64_t>(vocab),
                            Mix(Mix(static_cast<uint64_t>(s(0))) ^ static_cast<uint64_t>(s(1)))};
    } else {
      OP_REQUIRES(ctx, negatives.dim_size(1) >= 1, InvalidArgument("sampled objectives need negatives [B, K>=1]"));
    }
    OP_REQUIRES_OK(ctx, CheckIds(inputs, vocab, "inputs"));
    OP_REQUIRES_OK(ctx, CheckIds(labels, vocab, "labels"));
    OP_REQUIRES_OK(ctx, CheckIds(negatives, vocab, "negatives"));
    // Only the paths of this batch's targets are read (a per-step check of all V paths cost HS ~1 ms a step).
    if (objective_ == Objective::kHs) OP_REQUIRES_OK(ctx, CheckPaths(t, skipgram_ ? inputs : labels, vocab));

    // Every check passed: from here on the tables are written.
    OP_REQUIRES_OK(ctx, PrepareToUpdate(ctx, input_table));
    OP_REQUIRES_OK(ctx, PrepareToUpdate(ctx, output_table));
    if (num_bias_) {
      OP_REQUIRES_OK(ctx, PrepareToUpdate(ctx, bias_var->tensor()));
      t.bias = bias_var->tensor()->flat<float>().data();
    }
    t.output = output_table->flat<float>().data();

    Tensor* loss = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({batch}), &loss));
    const bool draws_negatives = objective_ != Objective::kHs && pair_negatives_ > 0;
    Batch b{inputs.flat<int32_t>().data(), input_weights.flat<float>().data(), labels.flat<int32_t>().data(),
            label_weights.flat<float>().data(), negatives.flat<int32_t>().data(),
            static_cast<int>(inputs.dim_size(1)), static_cast<int>(labels.dim_size(1)),
            static_cast<int>(draws_negatives ? pair_negatives_ : negatives.dim_size(1)), batch, draws_negatives,
            noise};
    float* input_rows = input_table->flat<float>().data();
    const float lr = learning_rate.scalar<float>()();
    float* losses = loss->flat<float>().data();

    auto work = [&](int64_t begin, int64_t end) {
      std::vector<float> hidden(dim), error(dim), scores;
      std::vector<int32_t> candidates, drawn(static_cast<size_t>(b.negatives_per_example) *
                                             (skipgram_ ? b.labels_per_example : 1));
      for (int64_t i = begin; i < end; ++i)
        losses[i] = TrainExample(t, b, i, input_rows, lr, hidden.data(), error.data(), drawn.data(), candidates,
                                 scores);
    };
    auto* pool = ctx->device()->tensorflow_cpu_worker_threads();
    int threads = pool->num_threads;
    if (max_threads_ > 0) threads = std::min(threads, max_threads_);
    if (threads <= 1) {
      work(0, batch);
    } else {
      const int64_t cost = static_cast<int64_t>(b.labels_per_example + b.inputs_per_example) *
                           (b.negatives_per_example + 1 + (objective_ == Objective::kHs ? t.path_width : 0)) * dim * 4;
      tensorflow::Shard(threads, pool->workers, batch, cost, work);
    }
  }

 private:
  struct Batch {
    const int32_t* inputs;
    const float* input_weights;
    const int32_t* labels;
    const float* label_weights;
    const int32_t* negatives;
    int inputs_per_example, labels_per_example, negatives_per_example;
    int64_t size;  // B
    bool draws_negatives;  // K fresh noise ids per pair from `noise`, not the given negatives
    NoiseSampler noise;
  };

  // The negatives of example `i`'s `pairs` pairs: drawn into `drawn` [pairs, K] (draw n = (i·P + p)·K + j for
  // negative j of pair p, P = `pairs`), or the example's given row, shared (then `stride` is 0). Only the pairs
  // of positive `pair_weights` (all of them when it is null) are drawn: the padding slots are never trained.
  const int32_t* ExampleNegatives(const Batch& b, int64_t i, int pairs, const float* pair_weights, int32_t* drawn,
                                  int* stride) const {
    const int k = b.negatives_per_example;
    if (!b.draws_negatives) {
      *stride = 0;
      return b.negatives + i * k;
    }
    *stride = k;
    const uint64_t first = static_cast<uint64_t>(i) * pairs * k;
    for (int p = 0; p < pairs; ++p) {
      if (pair_weights != nullptr && !(pair_weights[p] > 0.0f)) continue;
      for (int n = p * k; n < (p + 1) * k; ++n) drawn[n] = b.noise.Draw(first + n);
    }
    return drawn;
  }

  // Starts fetching the rows CBOW example `i` will touch (its context rows, its centre's output row and its
  // negatives' rows: random rows of tables far larger than the cache) while the example before it trains.
  static void PrefetchCbowExample(const Tables& t, const Batch& b, int64_t i, const float* input_rows) {
    const int d = t.dim;
    for (int j = 0; j < b.inputs_per_example; ++j)
      if (b.input_weights[i * b.inputs_per_example + j] > 0.0f)
        PrefetchRow(input_rows + static_cast<int64_t>(b.inputs[i * b.inputs_per_example + j]) * d, d);
    PrefetchRow(t.output + static_cast<int64_t>(b.labels[i]) * d, d);
    const int k = b.negatives_per_example;
    const uint64_t first = static_cast<uint64_t>(i) * k;
    for (int j = 0; j < k; ++j) {
      const int32_t negative = b.draws_negatives ? b.noise.Draw(first + j) : b.negatives[i * k + j];
      PrefetchRow(t.output + static_cast<int64_t>(negative) * d, d);
    }
  }

  float Pair(const Tables& t, const float* h, int32_t target, const int32_t* negatives, int k, float lr, float* e,
             std::vector<int32_t>& candidates, std::vector<float>& scores) const {
    switch (objective_) {
      case Objective::kHs:
        return HuffmanPair(t, h, target, lr, e);
      case Objective::kDs:
        return SoftmaxPair(t, h, target, negatives, k, lr, e, candidates, scores);
      default:
        return LogisticPair(t, h, target, negatives, k, lr, e);
    }
  }

  float TrainExample(const Tables& t, const Batch& b, int64_t i, float* input_rows, float lr, float* hidden,
                     float* error, int32_t* drawn, std::vector<int32_t>& candidates, std::vector<float>& scores) const {
    const int d = t.dim;
    const int k = b.negatives_per_example;
    if (skipgram_) {  // each context row is the input of its own pair; the centre word is the target
      const int32_t centre = b.inputs[i];
      const int pairs = b.labels_per_example;
      const int32_t* labels = b.labels + i * pairs;
      const float* label_weights = b.label_weights + i * pairs;
      int stride = 0;
      const int32_t* negatives = ExampleNegatives(b, i, pairs, label_weights, drawn, &stride);
      float loss = 0.0f;
      for (int j = 0; j < pairs; ++j) {
        // The rows of the pair two ahead are random rows of large tables: fetch them while these two train.
        for (int ahead = j == 0 ? 1 : 2; ahead <= 2 && j + ahead < pairs; ++ahead) {
          const int next = j + ahead;
          if (!(label_weights[next] > 0.0f)) continue;
          PrefetchRow(input_rows + static_cast<int64_t>(labels[next]) * d, d);
          for (int n = 0; n < k && stride > 0; ++n)
            PrefetchRow(t.output + static_cast<int64_t>(negatives[next * stride + n]) * d, d);
        }
        const float weight = label_weights[j];
        if (!(weight > 0.0f)) continue;
        float* row = input_rows + static_cast<int64_t>(labels[j]) * d;
        std::fill(error, error + d, 0.0f);
        loss += weight * Pair(t, row, centre, negatives + j * stride, k, lr, error, candidates, scores);
        Axpy(1.0f, error, row, d);
      }
      return loss;
    }
    // CBOW: the weighted sum of the context rows predicts the centre; every context row gets the full error.
    if (i + 1 < b.size) PrefetchCbowExample(t, b, i + 1, input_rows);
    const int32_t* context = b.inputs + i * b.inputs_per_example;
    const float* weights = b.input_weights + i * b.inputs_per_example;
    std::fill(hidden, hidden + d, 0.0f);
    bool any = false;
    for (int j = 0; j < b.inputs_per_example; ++j) {
      if (!(weights[j] > 0.0f)) continue;
      any = true;
      Axpy(weights[j], input_rows + static_cast<int64_t>(context[j]) * d, hidden, d);
    }
    if (!any) return 0.0f;
    int stride = 0;
    const int32_t* negatives = ExampleNegatives(b, i, 1, nullptr, drawn, &stride);
    std::fill(error, error + d, 0.0f);
    const float loss = b.label_weights[i] * Pair(t, hidden, b.labels[i], negatives, k, lr, error, candidates, scores);
    for (int j = 0; j < b.inputs_per_example; ++j)
      if (weights[j] > 0.0f) Axpy(1.0f, error, input_rows + static_cast<int64_t>(context[j]) * d, d);
    return loss;
  }

  static absl::Status CheckIds(const Tensor& ids, int64_t vocab, const char* name) {
    const auto flat = ids.flat<int32_t>();
    for (int64_t i = 0; i < flat.size(); ++i) {
      if (flat(i) < 0 || flat(i) >= vocab)
        return InvalidArgument(name, " holds id ", flat(i), " at flat position ", i, ", outside the vocabulary [0, ",
                               vocab, "); no table was changed");
    }
    return absl::OkStatus();
  }

  // The Huffman paths of `targets`: each length within [0, L] and each inner node within [0, V).
  static absl::Status CheckPaths(const Tables& t, const Tensor& targets, int64_t vocab) {
    const auto flat = targets.flat<int32_t>();
    for (int64_t i = 0; i < flat.size(); ++i) {
      const int32_t w = flat(i);
      if (t.lengths[w] < 0 || t.lengths[w] > t.path_width)
        return InvalidArgument("hs_lengths[", w, "] = ", t.lengths[w], " is outside [0, ", t.path_width,
                               "]; no table was changed");
      const int32_t* points = t.points + static_cast<int64_t>(w) * t.path_width;
      for (int j = 0; j < t.lengths[w]; ++j)
        if (points[j] < 0 || points[j] >= vocab)
          return InvalidArgument("hs_points holds id ", points[j], " on the path of word ", w,
                                 ", outside the vocabulary [0, ", vocab, "); no table was changed");
    }
    return absl::OkStatus();
  }

  // A read of the variable may still share its buffer: copy before writing in place (as TF's own
  // training ops do), so that the reader keeps the values it read.
  static absl::Status PrepareToUpdate(OpKernelContext* ctx, Tensor* tensor) {
    if (tensor->RefCountIsOne()) return absl::OkStatus();
    Tensor copy;
    TF_RETURN_IF_ERROR(ctx->allocate_temp(tensor->dtype(), tensor->shape(), &copy));
    std::copy_n(tensor->flat<float>().data(), tensor->NumElements(), copy.flat<float>().data());
    *tensor = copy;
    return absl::OkStatus();
  }

  bool skipgram_ = true;
  Objective objective_ = Objective::kNs;
  int num_bias_ = 0;
  int max_threads_ = 0;
  int pair_negatives_ = 0;
};

REGISTER_KERNEL_BUILDER(Name("Word2VecSgd").Device(DEVICE_CPU), Word2VecSgdOp);

}  // namespace
}  // namespace tfw2v
