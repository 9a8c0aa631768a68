// The Encoder facade as `_simtune.Encoder`.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <optional>
#include <string>

#include "bindings.h"
#include "simtune/encode/encoder.h"

namespace simtune::python {

namespace {

py::array_t<float> encode(const Encoder& encoder, const py::handle& sentences,
                          std::size_t batch_size, bool normalize, const py::object& progress,
                          const std::optional<std::string>& prompt_name) {
  if (batch_size < 1) throw py::value_error("batch_size must be at least 1");
  const std::vector<std::string> texts = to_texts(sentences, "sentences");
  EncodeOptions options;
  options.batch_size = batch_size;
  options.normalize = normalize;
  if (prompt_name) options.prompt_name = *prompt_name;
  options.progress = [&](std::size_t done, std::size_t total) { call_back(progress, done, total); };
  Matrix m;
  {
    py::gil_scoped_release release;
    m = encoder.encode(texts, options);
  }
  return to_numpy(std::move(m));
}

}  // namespace

void bind_encoder(py::module_& m) {
  py::class_<Encoder>(m, "Encoder", "A loaded model: simtune::Encoder.")
      .def(py::init([](const std::string& name) {
             return file_call([&] { return Encoder::load(name); }, name);
           }),
           py::arg("model_name_or_path"),
           "Loads a model directory or Hugging Face hub id (org/name[@revision]), as the CLI's "
           "--model does. FileNotFoundError when it is neither on disk nor in reach, OSError "
           "when it cannot be read.")
      .def("encode", &encode, py::arg("sentences"), py::arg("batch_size") = 32,
           py::arg("normalize") = false, py::arg("progress") = py::none(),
           py::arg("prompt_name") = py::none(),
           "Embeddings of a list of str as a float32 array (n, dimension), computed without "
           "the GIL. prompt_name: one of the model's prompts (None: its default prompt, if "
           "any). progress(done, total) is called after each batch; Ctrl-C stops the call "
           "between batches with KeyboardInterrupt.")
      .def_property_readonly("dimension", &Encoder::dimension)
      .def_property(
          "max_seq_length", &Encoder::max_seq_length,
          [](Encoder& e, std::size_t tokens) {
            // Without the GIL: the setter waits for a running encode, whose callbacks take it.
            py::gil_scoped_release release;
            e.set_max_seq_length(tokens);
          },
          "Tokens a text is truncated to (ValueError outside 1..max positions).")
      .def_property_readonly(
          "path", [](const Encoder& e) { return e.files().dir; },
          "The model's directory (in the Hugging Face cache for a hub id).")
      .def_property_readonly("normalizes", [](const Encoder& e) { return e.files().normalize; })
      .def_property_readonly(
          "similarity_fn_name", [](const Encoder& e) { return e.files().similarity_fn_name; },
          "config_sentence_transformers.json's similarity_fn_name (cosine when absent).")
      .def(
          "save",
          [](const Encoder& e, const std::filesystem::path& out) {
            file_call([&] { e.save(out); });
          },
          py::arg("path"), "Writes the model as a sentence-transformers directory.");
}

}  // namespace simtune::python
