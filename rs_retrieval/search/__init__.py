"""Search at scale: index a gallery once (resumable, shardable across processes), query it with English or Arabic
text or with an image, and label scenes zero-shot.

`RetrievalIndex` is the Python entry point; `rs-retrieval index | search | classify` are the commands
(hub_scripts/index.py, search.py, classify.py) built on the same modules:

* `gallery`: folders and dataset splits as keyed, fingerprinted items;
* `embedder`: batched embedding that skips unreadable images;
* `indexing`: resumable, sharded embedding into part files and the merge into a committed index;
* `store`: the index folder's files and its atomic commit;
* `integrity`: the checks every open makes (checksums, structure, paths inside the folder);
* `faiss_index`: exact or IVF index, with nprobe tuned to a recall target;
* `retrieval_index`: `RetrievalIndex` and `SearchResult`;
* `zero_shot`: prompt-ensemble classification.
"""

from .errors import SearchError, SearchInputError
from .faiss_index import EXACT_SEARCH_MAX_VECTORS, IndexPlan, build_faiss_index
from .gallery import DatasetGallery, FolderGallery, Gallery, SequenceGallery, open_gallery
from .indexing import IndexingReport, build_index
from .integrity import DamagedIndexError
from .retrieval_index import RetrievalIndex, SearchResult
from .store import Failure, IndexManifest
from .zero_shot import PromptSet, ZeroShotReport, classify_gallery

__all__ = [
    "EXACT_SEARCH_MAX_VECTORS",
    "DamagedIndexError",
    "DatasetGallery",
    "Failure",
    "FolderGallery",
    "Gallery",
    "IndexManifest",
    "IndexPlan",
    "IndexingReport",
    "PromptSet",
    "RetrievalIndex",
    "SearchError",
    "SearchInputError",
    "SearchResult",
    "SequenceGallery",
    "ZeroShotReport",
    "build_faiss_index",
    "build_index",
    "classify_gallery",
    "open_gallery",
]
