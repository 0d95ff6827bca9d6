// Word2VecExamples: the input pipeline's windowing stage, fused. Blocks of subsampled word ids become skip-gram
// or CBOW examples in one pass, instead of a dozen TF ops that each materialise a [centres, 2·window] tensor.
//
// A block holds L centre positions with `window` words of halo on each side (S = L + 2·window slots), the
// sentence number of every slot (-1: padding) and the shrunk half-window h of every centre. For centre c of a
// block, at slot p = c + window, context slot j ∈ [0, 2·window) is offset o_j = j - window (j < window) or
// j - window + 1 (j >= window), and it is in the context iff
//
//     sentence[p] >= 0  and  sentence[p + o_j] == sentence[p]  and  |o_j| <= h[c].
//
// A centre with m >= 1 context words is one example (centres with none are dropped), in block order then centre
// order. Skip-gram: inputs [E, 1] = the centre, input_weights 1, labels [E, 2w] = the context ids (0 where not
// in the context), label_weights 1/m (0 outside). CBOW: inputs [E, 2w] and input_weights 1/m (the mean) or 1
// (the sum), labels [E, 1] = the centre, label_weights 1. words [E] = the block's words_per_centre. This is
// tfw2v.data.context_examples's definition, which stays the reference; the two streams are equal bit for bit.

#include <cstdint>
#include <string>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace tfw2v {

using tensorflow::DEVICE_CPU;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::errors::InvalidArgument;

REGISTER_OP("Word2VecExamples")
    .Input("ids: int32")
    .Input("sentence: int32")
    .Input("half_windows: int32")
    .Input("words_per_centre: float")
    .Output("inputs: int32")
    .Output("input_weights: float")
    .Output("labels: int32")
    .Output("label_weights: float")
    .Output("words: float")
    .Attr("architecture: {'skipgram', 'cbow'}")
    .Attr("cbow_mean: bool = true")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      std::string architecture;
      TF_RETURN_IF_ERROR(c->GetAttr("architecture", &architecture));
      auto examples = c->UnknownDim();
      auto slots = c->UnknownDim();  // 2·window = S - L, when both are known
      const auto span = c->Dim(c->input(0), 1);
      const auto centres = c->Dim(c->input(2), 1);
      if (c->ValueKnown(span) && c->ValueKnown(centres)) slots = c->MakeDim(c->Value(span) - c->Value(centres));
      const bool skipgram = architecture == "skipgram";
      c->set_output(0, c->Matrix(examples, skipgram ? c->MakeDim(1) : slots));
      c->set_output(1, c->Matrix(examples, skipgram ? c->MakeDim(1) : slots));
      c->set_output(2, c->Matrix(examples, skipgram ? slots : c->MakeDim(1)));
      c->set_output(3, c->Matrix(examples, skipgram ? slots : c->MakeDim(1)));
      c->set_output(4, c->Vector(examples));
      return absl::OkStatus();
    })
    .Doc(R"doc(
Skip-gram or CBOW examples from blocks of word ids: ids and sentence [N, L + 2w], half_windows [N, L],
words_per_centre [N]. See the source's header for the definition.
)doc");

namespace {

class Word2VecExamplesOp : public OpKernel {
 public:
  explicit Word2VecExamplesOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    std::string architecture;
    OP_REQUIRES_OK(ctx, ctx->GetAttr("architecture", &architecture));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("cbow_mean", &cbow_mean_));
    skipgram_ = architecture == "skipgram";
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& ids = ctx->input(0);
    const Tensor& sentence = ctx->input(1);
    const Tensor& half_windows = ctx->input(2);
    const Tensor& words_per_centre = ctx->input(3);
    OP_REQUIRES(ctx, ids.dims() == 2 && ids.shape() == sentence.shape(),
                InvalidArgument("ids and sentence must both be [blocks, L + 2·window], got ",
                                ids.shape().DebugString(), " and ", sentence.shape().DebugString()));
    const int64_t blocks = ids.dim_size(0);
    const int64_t span = ids.dim_size(1);
    OP_REQUIRES(ctx, half_windows.dims() == 2 && half_windows.dim_size(0) == blocks,
                InvalidArgument("half_windows must be [blocks, L], got ", half_windows.shape().DebugString()));
    const int64_t length = half_windows.dim_size(1);
    OP_REQUIRES(ctx, span >= length && (span - length) % 2 == 0,
                InvalidArgument("ids [", blocks, ", ", span, "] and half_windows [", blocks, ", ", length,
                                "] do not differ by a halo of `window` slots on each side"));
    OP_REQUIRES(ctx, words_per_centre.shape() == TensorShape({blocks}),
                InvalidArgument("words_per_centre must be [blocks], got ", words_per_centre.shape().DebugString()));
    const int window = static_cast<int>((span - length) / 2);
    const int slots = 2 * window;

    const int32_t* id = ids.flat<int32_t>().data();
    const int32_t* sent = sentence.flat<int32_t>().data();
    const int32_t* half = half_windows.flat<int32_t>().data();
    const float* words_of_block = words_per_centre.flat<float>().data();

    // Pass 1: the context count m of every centre (0: no example).
    std::vector<int32_t> count(static_cast<size_t>(blocks * length));
    int64_t examples = 0;
    for (int64_t b = 0; b < blocks; ++b) {
      for (int64_t c = 0; c < length; ++c) {
        const int64_t p = b * span + c + window;
        const int32_t s = sent[p];
        const int32_t h = half[b * length + c];
        int32_t m = 0;
        if (s >= 0) {
          for (int o = 1; o <= window && o <= h; ++o) m += (sent[p - o] == s) + (sent[p + o] == s);
        }
        count[b * length + c] = m;
        examples += m > 0;
      }
    }

    const int64_t wide = slots, narrow = 1;
    Tensor *inputs, *input_weights, *labels, *label_weights, *words;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({examples, skipgram_ ? narrow : wide}), &inputs));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({examples, skipgram_ ? narrow : wide}), &input_weights));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({examples, skipgram_ ? wide : narrow}), &labels));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, TensorShape({examples, skipgram_ ? wide : narrow}), &label_weights));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(4, TensorShape({examples}), &words));
    // The centre's side ([E, 1]) and the context's side ([E, 2w]) of each example.
    int32_t* centre_ids = (skipgram_ ? inputs : labels)->flat<int32_t>().data();
    float* centre_weights = (skipgram_ ? input_weights : label_weights)->flat<float>().data();
    int32_t* context_ids = (skipgram_ ? labels : inputs)->flat<int32_t>().data();
    float* context_weights = (skipgram_ ? label_weights : input_weights)->flat<float>().data();
    float* example_words = words->flat<float>().data();

    // Pass 2: write the examples.
    int64_t e = 0;
    for (int64_t b = 0; b < blocks; ++b) {
      for (int64_t c = 0; c < length; ++c) {
        const int32_t m = count[b * length + c];
        if (m == 0) continue;
        const int64_t p = b * span + c + window;
        const int32_t s = sent[p];
        const int32_t h = half[b * length + c];
        const float weight = skipgram_ || cbow_mean_ ? 1.0f / static_cast<float>(m) : 1.0f;
        int32_t* out_ids = context_ids + e * slots;
        float* out_weights = context_weights + e * slots;
        for (int j = 0; j < slots; ++j) {
          const int o = j < window ? j - window : j - window + 1;
          const bool in_context = (o < 0 ? -o : o) <= h && sent[p + o] == s;
          out_ids[j] = in_context ? id[p + o] : 0;
          out_weights[j] = in_context ? weight : 0.0f;
        }
        centre_ids[e] = id[p];
        centre_weights[e] = 1.0f;
        example_words[e] = words_of_block[b];
        ++e;
      }
    }
  }

 private:
  bool skipgram_ = true;
  bool cbow_mean_ = true;
};

REGISTER_KERNEL_BUILDER(Name("Word2VecExamples").Device(DEVICE_CPU), Word2VecExamplesOp);

}  // namespace
}  // namespace tfw2v
