"""Train the small English+Arabic SentencePiece tokenizer on any caption corpus.

    python hub_scripts/train_tokenizer.py --out DIR [--dataset SAVED_DATASET_DIR ...] [--text-file FILE ...]
        [--jsonl FILE --jsonl-fields en,ar] [--vocab-size 2000] [--lowercase]

With no corpus given it trains on the embedded synthetic dataset's captions: that is how the package's
default tokenizer (`rs_retrieval/tokenizer/default_tokenizer/`) was made. Texts pass through the same `TextNormalizer`
the processor applies, so the vocabulary matches what the model will see.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from rs_retrieval.command_line import ArgumentParser, positive_int
from rs_retrieval.data.loading import load_dataset_dict
from rs_retrieval.errors import RsRetrievalError, command
from rs_retrieval.processing.text_normalization import TextNormalizer, has_words
from rs_retrieval.tokenizer import train_sentencepiece_tokenizer


def captions_from_dataset(path: str) -> Iterator[str]:
    """Every caption of every `captions_<lang>` column of every split of a saved DatasetDict."""
    dataset = load_dataset_dict(path)
    splits = dataset.values() if hasattr(dataset, "values") else [dataset]
    for split in splits:
        for column in [c for c in split.column_names if c.startswith("captions_")]:
            for captions in split[column]:
                yield from captions


def captions_from_jsonl(path: str, fields: list[str]) -> Iterator[str]:
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise RsRetrievalError(f"{path}:{number}: not JSON ({error})") from error
            if not isinstance(record, dict):
                raise RsRetrievalError(f"{path}:{number}: not a JSON object of fields ({', '.join(fields)})")
            yield from (str(record[f]) for f in fields if record.get(f))


def synthetic_captions(seed: int = 0, images_per_scene: int = 60) -> Iterator[str]:
    from rs_retrieval.data.synthetic import make_synthetic_dataset

    dataset = make_synthetic_dataset(splits={"train": images_per_scene}, seed=seed, image_size=32)
    for row in dataset["train"].remove_columns("image"):
        yield from row["captions_en"]
        yield from row["captions_ar"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder to write tokenizer.json and tokenizer_config.json")
    parser.add_argument("--dataset", action="append", default=[], help="a saved DatasetDict with captions_* columns")
    parser.add_argument("--text-file", action="append", default=[], help="a UTF-8 file, one text a line")
    parser.add_argument("--jsonl", action="append", default=[], help="a JSONL file of caption records")
    parser.add_argument("--jsonl-fields", default="en,ar", help="fields of --jsonl records to read (default en,ar)")
    parser.add_argument("--vocab-size", type=positive_int, default=2000, help="upper bound on the vocabulary size")
    parser.add_argument("--lowercase", action="store_true", help="lower-case texts before training")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic corpus (when no corpus is given)")
    return parser.parse_args(argv)


@command("rs-retrieval train-tokenizer")
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    texts: list[str] = []
    for path in args.dataset:
        texts.extend(captions_from_dataset(path))
    for path in args.text_file:
        texts.extend(line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines())
    fields = [f.strip() for f in args.jsonl_fields.split(",") if f.strip()]
    for path in args.jsonl:
        texts.extend(captions_from_jsonl(path, fields))
    source = "given corpus"
    if not (args.dataset or args.text_file or args.jsonl):
        texts.extend(synthetic_captions(args.seed))
        source = "synthetic dataset captions"
    normalizer = TextNormalizer(lowercase=args.lowercase)
    texts = [text for text in texts if has_words(text, normalizer)]
    if not texts:
        raise RsRetrievalError(f"the {source} holds no text with a letter or digit to train a tokenizer on")
    tokenizer = train_sentencepiece_tokenizer(texts, vocab_size=args.vocab_size, normalizer=normalizer)
    tokenizer.save_pretrained(args.out)
    print(f"trained on {len(texts):,} texts ({source}); vocabulary {len(tokenizer):,}; written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
