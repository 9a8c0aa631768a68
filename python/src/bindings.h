// Shared pieces of the extension `simtune._simtune`: how errors cross into Python, matrices to
// numpy and back, and the GIL discipline (compute runs without it; callbacks take it back).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "simtune/core/error.h"
#include "simtune/core/matrix.h"

namespace simtune::python {

namespace py = pybind11;

// An error about a file (a model to load, a directory to write): raised as OSError, or as
// FileNotFoundError when the file is missing. Any other simtune::Error is raised as ValueError
// (registered in module.cpp).
class FileError : public std::runtime_error {
 public:
  FileError(const std::string& what, bool missing) : std::runtime_error(what), missing(missing) {}
  bool missing;
};

// Whether `path` names nothing on disk ("" names nothing to check).
inline bool missing(const std::filesystem::path& path) {
  std::error_code ec;
  return !path.empty() && !std::filesystem::exists(path, ec);
}

// Runs `f` without the GIL; simtune::Error and filesystem errors leave as FileError, missing
// when `subject` (the file or directory `f` reads) does not exist.
template <class F>
auto file_call(F&& f, const std::filesystem::path& subject = {}) {
  try {
    py::gil_scoped_release release;
    return std::forward<F>(f)();
  } catch (const Error& e) {
    throw FileError(e.what(), missing(subject));
  } catch (const std::filesystem::filesystem_error& e) {
    throw FileError(e.what(), e.code() == std::errc::no_such_file_or_directory);
  }
}

// Called between batches or steps, without the GIL: runs `callback` (when not None) with the
// GIL held, then lets a pending Ctrl-C through. A Python exception from either unwinds the
// C++ call as py::error_already_set and reaches the caller unchanged.
template <class... Args>
void call_back(const py::object& callback, Args&&... args) {
  py::gil_scoped_acquire gil;
  if (!callback.is_none()) callback(std::forward<Args>(args)...);
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();
}

// The matrix as a float32 array of shape (rows, cols) that owns it: no copy, and the data lives
// as long as the array (or any view of it) does, whatever happens to the model.
py::array_t<float> to_numpy(Matrix&& m);

// A 2-D float32 copy of anything numpy reads as a matrix (a 1-D vector is one row); `what`
// names the argument in the error.
Matrix to_matrix(const py::handle& array, const char* what);

// UTF-8 strings of a sequence of str; TypeError names the first item that is not a str.
std::vector<std::string> to_texts(const py::handle& sequence, const char* what);

void bind_encoder(py::module_& m);
void bind_search(py::module_& m);
void bind_train(py::module_& m);

}  // namespace simtune::python
