// The Trainer facade as `_simtune.train`, with pair sets and the per-step callback.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <unistd.h>

#include <optional>

#include "bindings.h"
#include "simtune/train/trainer.h"

namespace simtune::python {

namespace {

PairData pairs_from_list(const py::handle& rows, const char* what) {
  if (py::isinstance<py::str>(rows) || !py::isinstance<py::sequence>(rows)) {
    throw py::type_error(std::string(what) +
                         ": expected a file path or a list of (text_a, "
                         "text_b, score)");
  }
  PairData data;
  std::size_t i = 0;
  for (const py::handle row : rows) {
    const std::string where = std::string(what) + "[" + std::to_string(i++) + "]";
    if (!py::isinstance<py::sequence>(row) || py::isinstance<py::str>(row) || py::len(row) != 3) {
      throw py::type_error(where + ": expected (text_a, text_b, score)");
    }
    const auto r = py::reinterpret_borrow<py::sequence>(row);
    const std::vector<std::string> texts = to_texts(py::make_tuple(r[0], r[1]), where.c_str());
    const py::object score = r[2];
    if (!py::isinstance<py::float_>(score) && !py::isinstance<py::int_>(score)) {
      throw py::type_error(where + ": score must be a number");
    }
    data.pairs.push_back({texts[0], texts[1], score.cast<double>()});
  }
  return data;
}

void bind_options(py::module_& m) {
  py::class_<PairFileOptions>(m, "PairFileOptions")
      .def(py::init<>())
      .def_readwrite("text_a_column", &PairFileOptions::text_a_column)
      .def_readwrite("text_b_column", &PairFileOptions::text_b_column)
      .def_readwrite("score_column", &PairFileOptions::score_column)
      .def_readwrite("score_scale", &PairFileOptions::score_scale)
      .def_readwrite("skip_bad_rows", &PairFileOptions::skip_bad_rows);
  py::class_<PairData>(m, "Pairs", "Training or evaluation pairs, read once.")
      .def_static(
          "from_file",
          [](const std::filesystem::path& path, const PairFileOptions& options) {
            // A file that cannot be read is OSError (FileNotFoundError when missing); a bad row
            // is bad input (ValueError).
            try {
              py::gil_scoped_release release;
              return load_pairs(path, options);
            } catch (const Error& e) {
              std::error_code ec;
              if (!std::filesystem::is_regular_file(path, ec) ||
                  ::access(path.c_str(), R_OK) != 0) {
                throw FileError(e.what(), missing(path));
              }
              throw;
            }
          },
          py::arg("path"), py::arg("options"))
      .def_static(
          "from_list", [](const py::handle& rows) { return pairs_from_list(rows, "pairs"); },
          py::arg("rows"))
      .def("__len__", [](const PairData& d) { return d.pairs.size(); })
      .def_readonly("skipped", &PairData::skipped)
      .def_readonly("first_skipped", &PairData::first_skipped);

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
      .def_readwrite("eval_steps", &TrainOptions::eval_steps);
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

TrainResult train(const std::filesystem::path& model, TrainOptions options, const PairData& pairs,
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
  return trainer->train(pairs.pairs, output, dev ? &dev_set : nullptr, test ? &test_set : nullptr);
}

}  // namespace

void bind_train(py::module_& m) {
  bind_options(m);
  bind_results(m);
  m.def("train", &train, py::arg("model"), py::arg("options"), py::arg("pairs"), py::arg("output"),
        py::arg("dev") = nullptr, py::arg("dev_name") = "", py::arg("test") = nullptr,
        py::arg("test_name") = "", py::arg("callback") = py::none(),
        "Trainer(model, options).train(pairs, output, dev, test) without the GIL; callback(step "
        "report) after every step, Ctrl-C between steps (KeyboardInterrupt).");
}

}  // namespace simtune::python
