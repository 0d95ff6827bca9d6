// word2vec.c's skip-gram negative-sampling update, replayed on a given example stream.
//
// Usage: replay STREAM COUNTS VOCAB DIM NEGATIVE ALPHA OUTPUT
//   STREAM  int32 rows of 1 + 2·window ids: the centre, then its context ids (-1: not in the context)
//   COUNTS  int64 [VOCAB]: the word counts (the noise distribution is count^0.75)
//   OUTPUT  float32 [VOCAB, DIM]: the trained input vectors
//
// Everything that decides an update is word2vec.c's (TrainModelThread, skip-gram, -negative > 0, one thread):
// its 48-bit LCG, its 1e8-entry unigram table sampled at (r >> 16) % size, its 1000-entry truncated sigmoid
// table clamped beyond ±6, a negative equal to the centre skipped, the input row updated once per pair after
// its K + 1 output rows, and α·max(1e-4, 1 − progress), here with progress counted in examples. Only the input
// rows' initialisation differs: uniform in [-1/D, 1/D) (gensim's scale, and tfw2v's default) from the LCG's
// bits 16–31, where word2vec.c takes its low 16 bits, which repeat every 65,536 draws.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { kSigmoidSize = 1000, kNoiseTableSize = 100000000 };
static const float kMaxScore = 6.0f;

static uint64_t lcg_next(uint64_t* state) {
  *state = *state * 25214903917ULL + 11;
  return *state;
}

static void* read_file(const char* path, long* bytes) {
  FILE* f = fopen(path, "rb");
  if (!f) { fprintf(stderr, "%s: cannot open\n", path); exit(1); }
  fseek(f, 0, SEEK_END);
  *bytes = ftell(f);
  fseek(f, 0, SEEK_SET);
  void* data = malloc(*bytes);
  if (fread(data, 1, *bytes, f) != (size_t)*bytes) { fprintf(stderr, "%s: short read\n", path); exit(1); }
  fclose(f);
  return data;
}

int main(int argc, char** argv) {
  if (argc != 8) { fprintf(stderr, "usage: replay STREAM COUNTS VOCAB DIM NEGATIVE ALPHA OUTPUT\n"); return 2; }
  const long vocab = atol(argv[3]);
  const int dim = atoi(argv[4]), negative = atoi(argv[5]);
  const float alpha = (float)atof(argv[6]);
  long stream_bytes, count_bytes;
  const int64_t* counts = read_file(argv[2], &count_bytes);
  if (count_bytes != vocab * 8) { fprintf(stderr, "%s: expected %ld int64 counts\n", argv[2], vocab); return 1; }
  const int32_t* stream = read_file(argv[1], &stream_bytes);
  const int row = 11;  // 1 + 2·window, window 5
  const long examples = stream_bytes / (row * 4);

  float sigmoid[kSigmoidSize];
  for (int i = 0; i < kSigmoidSize; ++i) {
    const float e = expf((i / (float)kSigmoidSize * 2 - 1) * kMaxScore);
    sigmoid[i] = e / (e + 1);
  }
  int32_t* noise = malloc(sizeof(int32_t) * kNoiseTableSize);
  double total = 0, mass;
  for (long w = 0; w < vocab; ++w) total += pow((double)counts[w], 0.75);
  long word = 0;
  mass = pow((double)counts[0], 0.75) / total;
  for (long a = 0; a < kNoiseTableSize; ++a) {
    noise[a] = (int32_t)word;
    if (a / (double)kNoiseTableSize > mass && word < vocab - 1) mass += pow((double)counts[++word], 0.75) / total;
  }

  float* input = malloc(sizeof(float) * vocab * dim);
  float* output = calloc((size_t)vocab * dim, sizeof(float));
  float* error = malloc(sizeof(float) * dim);
  uint64_t state = 1;
  for (long a = 0; a < vocab * dim; ++a)
    input[a] = ((((lcg_next(&state) >> 16) & 0xFFFF) / 65536.0f) - 0.5f) * 2 / dim;

  for (long e = 0; e < examples; ++e) {
    const int32_t* ex = stream + e * row;
    float lr = alpha * (1 - e / (float)(examples + 1));
    if (lr < alpha * 1e-4f) lr = alpha * 1e-4f;
    const int32_t centre = ex[0];
    for (int j = 1; j < row; ++j) {
      if (ex[j] < 0) continue;
      float* h = input + (long)ex[j] * dim;
      memset(error, 0, sizeof(float) * dim);
      for (int d = 0; d <= negative; ++d) {
        int32_t target = centre;
        float label = 1;
        if (d > 0) {
          target = noise[(lcg_next(&state) >> 16) % kNoiseTableSize];
          if (target == centre) continue;
          label = 0;
        }
        float* u = output + (long)target * dim;
        float z = 0, g;
        for (int c = 0; c < dim; ++c) z += h[c] * u[c];
        if (z > kMaxScore) g = (label - 1) * lr;
        else if (z < -kMaxScore) g = label * lr;
        else g = (label - sigmoid[(int)((z + kMaxScore) * (kSigmoidSize / kMaxScore / 2))]) * lr;
        for (int c = 0; c < dim; ++c) error[c] += g * u[c];
        for (int c = 0; c < dim; ++c) u[c] += g * h[c];
      }
      for (int c = 0; c < dim; ++c) h[c] += error[c];
    }
  }
  FILE* out = fopen(argv[7], "wb");
  if (!out || fwrite(input, sizeof(float), (size_t)vocab * dim, out) != (size_t)(vocab * dim)) {
    fprintf(stderr, "%s: cannot write\n", argv[7]);
    return 1;
  }
  fclose(out);
  printf("examples %ld\n", examples);
  return 0;
}
