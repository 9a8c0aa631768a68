// semantic_search and paraphrase mining over embeddings (eval/search.h).
#include <pybind11/stl.h>

#include "bindings.h"
#include "simtune/eval/search.h"

namespace simtune::python {

void bind_search(py::module_& m) {
  m.def(
      "semantic_search",
      [](const py::handle& queries, const py::handle& corpus, std::size_t top_k) {
        const Matrix q = to_matrix(queries, "query_embeddings");
        const Matrix c = to_matrix(corpus, "corpus_embeddings");
        std::vector<std::vector<SearchHit>> hits;
        {
          py::gil_scoped_release release;
          hits = semantic_search(q, c, top_k);
        }
        py::list out;
        for (const auto& row : hits) {
          py::list r;
          for (const SearchHit& h : row) {
            r.append(py::dict(py::arg("corpus_id") = h.corpus_id, py::arg("score") = h.score));
          }
          out.append(r);
        }
        return out;
      },
      py::arg("query_embeddings"), py::arg("corpus_embeddings"), py::arg("top_k") = 10);
  m.def(
      "paraphrase_mining_embeddings",
      [](const py::handle& embeddings, std::size_t query_chunk_size, std::size_t corpus_chunk_size,
         std::size_t max_pairs, std::size_t top_k) {
        const Matrix e = to_matrix(embeddings, "embeddings");
        const ParaphraseOptions options{top_k, max_pairs, query_chunk_size, corpus_chunk_size};
        std::vector<ParaphrasePair> pairs;
        {
          py::gil_scoped_release release;
          pairs = paraphrase_mining(e, options);
        }
        py::list out;
        for (const ParaphrasePair& p : pairs) {
          py::list triple;  // [score, i, j], as sentence-transformers lists them
          triple.append(p.score);
          triple.append(p.i);
          triple.append(p.j);
          out.append(triple);
        }
        return out;
      },
      py::arg("embeddings"), py::arg("query_chunk_size") = 5000,
      py::arg("corpus_chunk_size") = 100000, py::arg("max_pairs") = 500000, py::arg("top_k") = 100);
}

}  // namespace simtune::python
