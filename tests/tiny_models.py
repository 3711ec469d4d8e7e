"""Tiny towers and a tiny bilingual corpus, shared by the tests (built in-process, no Hub)."""

from __future__ import annotations

from transformers import BertConfig, ViTConfig

from rs_retrieval import DualEncoderConfig

TINY_CORPUS = [
    "three airplanes parked next to the runway",
    "two white airplanes are parked near a grey runway",
    "a green farmland divided into rectangular fields",
    "a river winds through green land",
    "many red cars in a parking lot",
    "dense forest with dark green trees",
    "a sandy beach next to the blue sea",
    "white storage tanks arranged in rows",
    "ثلاث طائرات متوقفة بجانب المدرج",
    "طائرتان بيضاوان متوقفتان قرب مدرج رمادي",
    "أرض زراعية خضراء مقسمة إلى حقول مستطيلة",
    "نهر يتعرج عبر أرض خضراء",
    "سيارات حمراء كثيرة في موقف سيارات",
    "غابة كثيفة بأشجار خضراء داكنة",
    "شاطئ رملي بجانب البحر الأزرق",
    "خزانات تخزين بيضاء مرتبة في صفوف",
]

IMAGE_SIZE = 30


def tiny_config(vocab_size: int, **kwargs) -> DualEncoderConfig:
    vision = ViTConfig(image_size=IMAGE_SIZE, patch_size=5, hidden_size=32, num_hidden_layers=2,
                       num_attention_heads=4, intermediate_size=37)
    text = BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=37, max_position_embeddings=64, pad_token_id=1)
    kwargs.setdefault("projection_dim", 16)
    return DualEncoderConfig(vision_config=vision.to_dict(), text_config=text.to_dict(), **kwargs)
