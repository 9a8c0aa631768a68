// The Trainer facade as `_simtune.train`, with pair sets and the per-step callback.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <unistd.h>

#include <cmath>
#include <optional>

#include "bindings.h"
#include "simtune/train/losses.h"
#include "simtune/train/trainer.h"

namespace simtune::python {

namespace {

// Rows as sentence-transformers' datasets hold them: texts, then the label when there is one:
// (text_a, text_b, score) or (anchor, positive[, negative...]). The label is read and range-checked
// as `options` reads a file's score (a loss without labels ignores a trailing number).
PairData pairs_from_list(const py::handle& rows, const PairFileOptions& options, const char* what) {
  if (py::isinstance<py::str>(rows) || !py::isinstance<py::sequence>(rows)) {
    throw py::type_error(std::string(what) +
                         ": expected a file path or a list of (text_a, text_b, score) or "
                         "(anchor, positive[, negative...])");
  }
  PairData data;
  std::size_t i = 0;
  for (const py::handle row : rows) {
    const std::string where = std::string(what) + "[" + std::to_string(i++) + "]";
    if (!py::isinstance<py::sequence>(row) || py::isinstance<py::str>(row)) {
      throw py::type_error(where + ": expected a tuple of texts and, last, a score");
    }
    const auto r = py::reinterpret_borrow<py::sequence>(row);
    const std::size_t n = py::len(r);
    const bool has_score =
        n > 0 && (py::isinstance<py::float_>(r[n - 1]) ||
                  (py::isinstance<py::int_>(r[n - 1]) && !py::isinstance<py::bool_>(r[n - 1])));
    const std::size_t texts_end = has_score ? n - 1 : n;
    if (texts_end < (options.one_text ? 1u : 2u)) {
      throw py::type_error(where + ": expected at least " +
                           (options.one_text ? "one text" : "two texts") +
                           ", then the score if any");
    }
    py::tuple texts_of(texts_end);
    for (std::size_t k = 0; k < texts_end; k++) texts_of[k] = r[k];
    std::vector<std::string> texts = to_texts(texts_of, where.c_str());
    double score = 0.0;
    if (options.read_score) {
      if (!has_score) throw py::type_error(where + ": the loss takes a score, last in the tuple");
      score = r[n - 1].cast<double>();
      if (!(score >= options.min_score && score <= options.max_score)) {
        throw py::value_error(where + ": score " + py::str(r[n - 1]).cast<std::string>() +
                              " is outside [" +
                              py::str(py::float_(options.min_score)).cast<std::string>() + ", " +
                              py::str(py::float_(options.max_score)).cast<std::string>() + "]");
      }
      if (options.integer_score && score != std::floor(score)) {
        throw py::value_error(where + ": label " + py::str(r[n - 1]).cast<std::string>() +
                              " is not a class (a whole number)");
      }
    }
    if (texts.size() == 1) {
      data.pairs.push_back({std::move(texts[0]), std::string(), score, {}, true});
      continue;
    }
    Pair pair{std::move(texts[0]), std::move(texts[1]), score};
    pair.negatives.assign(std::make_move_iterator(texts.begin() + 2),
                          std::make_move_iterator(texts.end()));
    data.pairs.push_back(std::move(pair));
  }
  return data;
}

// Reads a pairs file without the GIL. A file that cannot be read is OSError
// (FileNotFoundError when missing); a bad row is bad input (ValueError).
template <class Read>
auto read_pairs_file(const std::filesystem::path& path, Read&& read) {
  try {
    py::gil_scoped_release release;
    return read();
  } catch (const OptionError&) {
    throw;  // an option out of range (score_scale), whatever the file
  } catch (const Error& e) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec) || ::access(path.c_str(), R_OK) != 0) {
      throw FileError(e.what(), missing(path));
    }
    throw;
  }
}

void bind_options(py::module_& m) {
  py::class_<PairFileOptions>(m, "PairFileOptions")
      .def(py::init<>())
      .def_readwrite("text_a_column", &PairFileOptions::text_a_column)
      .def_readwrite("text_b_column", &PairFileOptions::text_b_column)
      .def_readwrite("score_column", &PairFileOptions::score_column)
      .def_readwrite("negative_columns", &PairFileOptions::negative_columns)
      .def_readwrite("score_scale", &PairFileOptions::score_scale)
      .def_readwrite("skip_bad_rows", &PairFileOptions::skip_bad_rows);
  m.def(
      "with_loss_shape",
      [](const PairFileOptions& options, const std::string& loss, int num_labels) {
        return with_loss_shape(options, loss_shape(loss), num_labels);
      },
      py::arg("options"), py::arg("loss"), py::arg("num_labels") = 0,
      "The options set to read a training file in the shape `loss` takes (its score or none, "
      "the label's range; SoftmaxLoss's classes below num_labels when set); ValueError for a "
      "loss simtune does not have.");
  py::class_<PairData>(m, "Pairs", "Training or evaluation pairs, read once.")
      .def_static(
          "from_file",
          [](const std::filesystem::path& path, const PairFileOptions& options) {
            return read_pairs_file(path, [&] { return load_pairs(path, options); });
          },
          py::arg("path"), py::arg("options"))
      .def_static(
          "from_list",
          [](const py::handle& rows, const PairFileOptions& options) {
            return pairs_from_list(rows, options, "pairs");
          },
          py::arg("rows"), py::arg("options"))
      .def("__len__", [](const PairData& d) { return d.pairs.size(); })
      .def_readonly("skipped", &PairData::skipped)
      .def_readonly("first_skipped", &PairData::first_skipped);
  py::class_<PairFile>(m, "PairFile",
                       "A training file checked once and then read row by row as batches need "
                       "them (under mpirun a rank reads only its rows).")
      .def(py::init([](const std::filesystem::path& path, const PairFileOptions& options) {
             return read_pairs_file(path,
                                    [&] { return std::make_unique<PairFile>(path, options); });
           }),
           py::arg("path"), py::arg("options"))
      .def("__len__", &PairFile::size)
      .def_property_readonly("skipped", &PairFile::skipped)
      .def_property_readonly("first_skipped", &PairFile::first_skipped);

  py::class_<TrainOptions>(m, "TrainOptions",
                           "simtune::TrainOptions (the `simtune train` options).")
      .def(py::init<>())
      .def_readwrite("epochs", &TrainOptions::epochs)
      .def_readwrite("batch_size", &TrainOptions::batch_size)
      .def_readwrite("lr", &TrainOptions::lr)
      .def_readwrite("warmup_ratio", &TrainOptions::warmup_ratio)
      .def_readwrite("warmup_steps", &TrainOptions::warmup_steps)
      .def_readwrite("weight_decay", &TrainOptions::weight_decay)
      .def_readwrite("max_grad_norm", &TrainOptions::max_grad_norm)
      .def_readwrite("adam_eps", &TrainOptions::adam_eps)
      .def_readwrite("seed", &TrainOptions::seed)
      .def_readwrite("max_steps", &TrainOptions::max_steps)
      .def_readwrite("shuffle", &TrainOptions::shuffle)
      .def_readwrite("dropout", &TrainOptions::dropout)
      .def_readwrite("log_file", &TrainOptions::log_file)
      .def_readwrite("checkpoint_steps", &TrainOptions::checkpoint_steps)
      .def_readwrite("checkpoint_limit", &TrainOptions::checkpoint_limit)
      .def_readwrite("resume", &TrainOptions::resume)
      .def_readwrite("eval_steps", &TrainOptions::eval_steps)
      .def_readwrite("loss", &TrainOptions::loss)
      .def_readwrite("matryoshka_dims", &TrainOptions::matryoshka_dims)
      .def_readwrite("matryoshka_weights", &TrainOptions::matryoshka_weights)
      .def_readwrite("mini_batch_size", &TrainOptions::mini_batch_size)
      .def_readwrite("teacher_embeddings", &TrainOptions::teacher_embeddings)
      .def_readwrite("num_labels", &TrainOptions::num_labels)
      .def_readwrite("loss_init", &TrainOptions::loss_init)
      .def_readwrite("no_duplicates", &TrainOptions::no_duplicates)
      .def_readwrite("overlap", &TrainOptions::overlap)
      .def(
          "validate", [](const TrainOptions& o) { validate(o); },
          "ValueError naming the first option outside its range (the Trainer's own check).");
}

void bind_results(py::module_& m) {
  py::class_<StepReport>(m, "StepReport", "One optimizer step, as the training log records it.")
      .def_readonly("step", &StepReport::step)
      .def_readonly("total_steps", &StepReport::total_steps)
      .def_readonly("epoch", &StepReport::epoch)
      .def_readonly("loss", &StepReport::loss)
      .def_readonly("lr", &StepReport::lr)
      .def_readonly("grad_norm", &StepReport::grad_norm)
      .def_readonly("pairs_per_s", &StepReport::pairs_per_s)
      .def("__repr__", [](const StepReport& r) {
        return "StepReport(step=" + std::to_string(r.step) + "/" + std::to_string(r.total_steps) +
               ", loss=" + std::to_string(r.loss) + ", lr=" + std::to_string(r.lr) + ")";
      });
  py::class_<SimilarityMetrics>(m, "SimilarityMetrics")
      .def_readonly("cosine_pearson", &SimilarityMetrics::cosine_pearson)
      .def_readonly("cosine_spearman", &SimilarityMetrics::cosine_spearman)
      .def_readonly("euclidean_pearson", &SimilarityMetrics::euclidean_pearson)
      .def_readonly("euclidean_spearman", &SimilarityMetrics::euclidean_spearman)
      .def_readonly("manhattan_pearson", &SimilarityMetrics::manhattan_pearson)
      .def_readonly("manhattan_spearman", &SimilarityMetrics::manhattan_spearman)
      .def_readonly("dot_pearson", &SimilarityMetrics::dot_pearson)
      .def_readonly("dot_spearman", &SimilarityMetrics::dot_spearman);
  py::class_<EvalRecord>(m, "EvalRecord")
      .def_readonly("name", &EvalRecord::name)
      .def_readonly("step", &EvalRecord::step)
      .def_readonly("epoch", &EvalRecord::epoch)
      .def_readonly("metrics", &EvalRecord::metrics);
  py::class_<TrainResult>(m, "TrainResult")
      .def_readonly("steps", &TrainResult::steps)
      .def_readonly("last_loss", &TrainResult::last_loss)
      .def_readonly("seconds", &TrainResult::seconds)
      .def_readonly("evals", &TrainResult::evals);
}

// `pairs`: a list read into memory (Pairs), or a file read as batches need its rows (PairFile).
TrainResult train(const std::filesystem::path& model, TrainOptions options, PairRows& pairs,
                  const std::filesystem::path& output, const PairData* dev,
                  const std::string& dev_name, const PairData* test, const std::string& test_name,
                  const py::object& callback) {
  // A copy: the callback may keep the report beyond the step.
  options.on_step = [&](const StepReport& r) { call_back(callback, StepReport(r)); };
  const EvalSet dev_set{dev_name, dev ? dev->pairs : std::vector<Pair>{}};
  const EvalSet test_set{test_name, test ? test->pairs : std::vector<Pair>{}};
  std::optional<Trainer> trainer;
  file_call([&] { trainer.emplace(model, options); });
  py::gil_scoped_release release;
  return trainer->train(pairs, output, dev ? &dev_set : nullptr, test ? &test_set : nullptr);
}

}  // namespace

void bind_train(py::module_& m) {
  bind_options(m);
  bind_results(m);
  const auto train_on = [](const std::filesystem::path& model, const TrainOptions& options,
                           py::object pairs, const std::filesystem::path& output,
                           const PairData* dev, const std::string& dev_name, const PairData* test,
                           const std::string& test_name, const py::object& callback) {
    if (py::isinstance<PairFile>(pairs)) {
      return train(model, options, pairs.cast<PairFile&>(), output, dev, dev_name, test, test_name,
                   callback);
    }
    PairList rows(pairs.cast<const PairData&>().pairs);
    return train(model, options, rows, output, dev, dev_name, test, test_name, callback);
  };
  m.def("train", train_on, py::arg("model"), py::arg("options"), py::arg("pairs"),
        py::arg("output"), py::arg("dev") = nullptr, py::arg("dev_name") = "",
        py::arg("test") = nullptr, py::arg("test_name") = "", py::arg("callback") = py::none(),
        "Trainer(model, options).train(pairs, output, dev, test) without the GIL; callback(step "
        "report) after every step, Ctrl-C between steps (KeyboardInterrupt).");
}

}  // namespace simtune::python
