"""`DualEncoderProcessor`: one call prepares images and bilingual text for the dual encoder.

Saved beside every checkpoint (with its image processor and text normaliser), so training, evaluation and
serving preprocess identically, and `AutoProcessor.from_pretrained(path, trust_remote_code=True)` needs
nothing but this folder.
"""

from __future__ import annotations

from typing import Any

from transformers.image_processing_utils import BatchFeature
from transformers.processing_utils import ProcessorMixin

from .image_processing_rs_dual_encoder import DualEncoderImageProcessor
from .text_normalization import TextNormalizer


class DualEncoderProcessor(ProcessorMixin):
    """An image processor plus any Hugging Face tokenizer, with Arabic-aware text normalisation.

    Args:
        image_processor: a `DualEncoderImageProcessor`.
        tokenizer: any fast tokenizer (the package's own English+Arabic SentencePiece one by default).
        max_length: texts are truncated to this many tokens.
        text_prefix: prepended to every text after normalisation (e.g. `"query: "` for E5 text towers).
        text_normalization: options of `TextNormalizer` (strip_tashkeel, unify_alef, lowercase, ...).

    Example:

    ```python
    >>> processor = DualEncoderProcessor(DualEncoderImageProcessor(size=64), tokenizer)
    >>> batch = processor(images=["tile.tif"], text=["طائرات متوقفة بجانب المدرج"], return_tensors="pt")
    >>> sorted(batch.keys())
    ['attention_mask', 'input_ids', 'pixel_values']
    ```
    """

    def __init__(
        self,
        image_processor: DualEncoderImageProcessor | None = None,
        tokenizer: Any = None,
        max_length: int = 64,
        text_prefix: str = "",
        text_normalization: dict[str, bool] | None = None,
        **kwargs: Any,
    ):
        super().__init__(image_processor, tokenizer, **kwargs)
        if max_length <= 0:
            raise ValueError(f"max_length must be positive, got {max_length}")
        self.max_length = int(max_length)
        self.text_prefix = text_prefix
        self.text_normalizer = TextNormalizer.from_dict(text_normalization)
        self.text_normalization = self.text_normalizer.to_dict()

    def normalize_text(self, text: str | list[str]) -> str | list[str]:
        """The exact strings the tokenizer sees: normalised, then prefixed."""
        if isinstance(text, str):
            return self.text_prefix + self.text_normalizer(text)
        return [self.text_prefix + self.text_normalizer(t) for t in text]

    def __call__(
        self,
        images: Any = None,
        text: str | list[str] | None = None,
        return_tensors: str | None = "pt",
        padding: bool | str = True,
        truncation: bool = True,
        max_length: int | None = None,
        augment: bool = False,
        generator: Any = None,
        **kwargs: Any,
    ) -> BatchFeature:
        """Tokenise `text` and/or preprocess `images` (PIL, numpy, tensors or file paths) into one batch."""
        if images is None and text is None:
            raise ValueError("give images, text or both")
        data: dict[str, Any] = {}
        if text is not None:
            if isinstance(text, (list, tuple)) and len(text) == 0:
                raise ValueError("text is an empty list")
            encoded = self.tokenizer(
                self.normalize_text(list(text) if isinstance(text, tuple) else text),
                padding=padding,
                truncation=truncation,
                max_length=max_length or self.max_length,
                return_tensors=return_tensors,
                **kwargs,
            )
            data.update(encoded)
        if images is not None:
            pixels = self.image_processor(images, augment=augment, generator=generator,
                                          return_tensors=return_tensors or "pt")
            data.update(pixels)
        return BatchFeature(data=data)

    def batch_decode(self, *args: Any, **kwargs: Any) -> list[str]:
        return self.tokenizer.batch_decode(*args, **kwargs)

    def decode(self, *args: Any, **kwargs: Any) -> str:
        return self.tokenizer.decode(*args, **kwargs)

    @property
    def model_input_names(self) -> list[str]:
        return list(dict.fromkeys(self.tokenizer.model_input_names + self.image_processor.model_input_names))


__all__ = ["DualEncoderProcessor"]
