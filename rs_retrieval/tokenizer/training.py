"""Train a small English+Arabic SentencePiece (unigram) tokenizer and wrap it as a Hugging Face fast tokenizer.

The vocabulary is laid out like XLM-R's (<s>=0, <pad>=1, </s>=2, <unk>=3, ..., <mask> last), so the result
is an `XLMRobertaTokenizer` that `AutoTokenizer` loads from `tokenizer.json` with no custom code.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import sentencepiece as spm
from transformers import XLMRobertaTokenizer

from ..processing.text_normalization import TextNormalizer


def train_sentencepiece_tokenizer(
    texts: Iterable[str],
    vocab_size: int = 2000,
    normalizer: TextNormalizer | None = None,
    character_coverage: float = 1.0,
    seed_sentencepiece: bool = True,
) -> XLMRobertaTokenizer:
    """Train a unigram model on `texts` (normalised first, exactly as the processor will) and wrap it.

    `vocab_size` is an upper bound: a small corpus cannot support a large vocabulary, so training retries with
    a smaller size when SentencePiece says the corpus is too small.
    """
    normalizer = normalizer or TextNormalizer()
    corpus = [normalizer(t) for t in texts if t and t.strip()]
    if not corpus:
        raise ValueError("no non-empty texts to train a tokenizer on")
    model = io.BytesIO()
    size = vocab_size
    while True:
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(corpus),
                model_writer=model,
                model_type="unigram",
                vocab_size=size,
                character_coverage=character_coverage,
                bos_id=0, pad_id=1, eos_id=2, unk_id=3,
                bos_piece="<s>", pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
                normalization_rule_name="identity",  # our TextNormalizer already ran
                hard_vocab_limit=False,
                split_digits=True,
                num_threads=2,
                minloglevel=2,
            )
            break
        except RuntimeError as error:
            if "Vocabulary size is too high" not in str(error) or size <= 64:
                raise
            size = max(64, size // 2)
            model = io.BytesIO()
    processor = spm.SentencePieceProcessor(model_proto=model.getvalue())
    vocab = [(processor.id_to_piece(i), processor.get_score(i)) for i in range(processor.get_piece_size())]
    vocab[:4] = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab.append(("<mask>", 0.0))
    return XLMRobertaTokenizer(vocab=vocab)


__all__ = ["train_sentencepiece_tokenizer"]
