// simtune._simtune: the engine for the `simtune` Python package (python/simtune/).
#include "bindings.h"
#include "simtune/core/cpu.h"
#include "simtune/core/threads.h"
#include "simtune/dist/group.h"

namespace simtune::python {

py::array_t<float> to_numpy(Matrix&& m) {
  auto* owned = new Matrix(std::move(m));
  const py::capsule base(owned, [](void* p) { delete static_cast<Matrix*>(p); });
  return py::array_t<float>({owned->rows, owned->cols}, owned->data.data(), base);
}

Matrix to_matrix(const py::handle& array, const char* what) {
  if (array.is_none()) throw py::type_error(std::string(what) + ": expected an array, got None");
  const auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(array);
  if (!a) throw py::error_already_set();
  if (a.ndim() != 1 && a.ndim() != 2) {
    throw py::value_error(std::string(what) + ": expected a 1-D or 2-D array, got " +
                          std::to_string(a.ndim()) + " dimensions");
  }
  Matrix out;
  out.rows = a.ndim() == 2 ? static_cast<std::size_t>(a.shape(0)) : 1;
  out.cols = static_cast<std::size_t>(a.shape(a.ndim() - 1));
  out.data.assign(a.data(), a.data() + out.rows * out.cols);
  return out;
}

std::vector<std::string> to_texts(const py::handle& sequence, const char* what) {
  if (py::isinstance<py::str>(sequence) || !py::isinstance<py::sequence>(sequence)) {
    throw py::type_error(std::string(what) + ": expected a list of str, got " +
                         std::string(py::str(sequence.get_type().attr("__name__"))));
  }
  const auto items = py::reinterpret_borrow<py::sequence>(sequence);
  std::vector<std::string> texts;
  texts.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); i++) {
    const py::object item = items[i];
    if (!py::isinstance<py::str>(item)) {
      throw py::type_error(std::string(what) + "[" + std::to_string(i) + "]: expected str, got " +
                           std::string(py::str(item.get_type().attr("__name__"))));
    }
    Py_ssize_t size = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(item.ptr(), &size);
    if (utf8 == nullptr) throw py::error_already_set();  // lone surrogates
    texts.emplace_back(utf8, static_cast<std::size_t>(size));
  }
  return texts;
}

}  // namespace simtune::python

PYBIND11_MODULE(_simtune, m) {
  namespace py = pybind11;
  using namespace simtune::python;
  m.doc() = "simtune's C++ engine; use the `simtune` package, not this module.";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const FileError& e) {
      PyErr_SetString(e.missing ? PyExc_FileNotFoundError : PyExc_OSError, e.what());
    } catch (const simtune::Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  // The kernels' instruction set is settled at import, so SIMTUNE_ISA errors surface here.
  const simtune::Isa isa = simtune::active_isa();
  m.attr("kernels") = std::string(simtune::isa_name(isa)) + " on " + simtune::cpu_description();
  m.def("set_num_threads", &simtune::set_num_threads, py::arg("n"),
        "Threads for encoding and training (n <= 0: all cores).");
  bind_encoder(m);
  bind_search(m);
  bind_train(m);
  // A script under mpirun (fit trains data-parallel, docs/distributed.md) ends its job as the
  // command line does: MPI finalised after a clean exit (else mpirun fails the job), every rank
  // stopped after an uncaught exception (sys.last_value set), so none waits in a collective for
  // a rank that is gone.
  py::module_::import("atexit").attr("register")(py::cpp_function([] {
    if (!simtune::dist::launched_by_mpirun()) return;
    const bool failed = py::hasattr(py::module_::import("sys"), "last_value");
    simtune::dist::Group::world().finish(failed ? 1 : 0);
  }));
}
