#!/usr/bin/env python3
"""Loads Amend's exports with Hugging Face `datasets` and trains TRL's DPOTrainer on them.

A by-hand check, not part of `npm test` (no Python there). Make the exports first, then run this:

    npm run demo -- --prompts examples/prompts-multi-turn.jsonl --export out/trl
    npm run demo -- --prompts examples/prompts-multi-turn.jsonl --mode ai-feedback --export out/trl-ai-feedback
    python3 -m venv .venv-trl && .venv-trl/bin/pip install datasets trl torch
    .venv-trl/bin/python scripts/check-trl.py out/trl out/trl-ai-feedback

It loads conversational.jsonl, standard.jsonl, h4.jsonl and sft.jsonl with
`datasets.load_dataset("json", data_files=...)` and the dataset folder hf/ with
`datasets.load_dataset(DIR)` (train and test splits from its README.md card), then runs a few
DPOTrainer steps on the conversational and the standard file with a tiny GPT-2 whose weights are
random and whose tokenizer is trained here on the exports' own words: nothing is downloaded, so it
runs offline on a CPU in about a minute. Judged exports (ai-feedback, verify) carry `score_chosen`,
`score_rejected` and `margin`: a few RewardTrainer steps run on those too. It checks shapes and that
training runs, not model quality.
Exit 0 when every step passed.
"""
import dataclasses
import json
import os
import sys
import tempfile

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import datasets  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
import trl  # noqa: E402
from tokenizers import Tokenizer, models, pre_tokenizers, trainers  # noqa: E402
from transformers import GPT2Config, GPT2ForSequenceClassification, GPT2LMHeadModel, PreTrainedTokenizerFast  # noqa: E402
from trl import DPOConfig, DPOTrainer, RewardConfig, RewardTrainer  # noqa: E402

# A chat template in the shape TRL expects: the prompt rendered with the generation prompt is a
# prefix of prompt + answer rendered, so TRL can cut the answer off the whole.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIALS = ["<|pad|>", "<|unk|>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]


def texts_of(value):
    """Every string inside a JSON value (messages, prompts, answers)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from texts_of(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from texts_of(v)


def tiny_tokenizer(files):
    """A word-level tokenizer trained on the exports' prompt and answer texts: offline, no hub."""
    corpus = []
    for path in files:
        with open(path, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                for key in ("prompt", "chosen", "rejected"):
                    corpus.extend(texts_of(row[key]))
    tok = Tokenizer(models.WordLevel(unk_token="<|unk|>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    tok.train_from_iterator(corpus, trainers.WordLevelTrainer(special_tokens=SPECIALS, min_frequency=1))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<|pad|>", unk_token="<|unk|>", eos_token="<|end|>", bos_token="<|end|>"
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def tiny_model(tokenizer):
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=2048, n_embd=32, n_layer=2, n_head=2,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    return GPT2LMHeadModel(config)


def tiny_reward_model(tokenizer):
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=2048, n_embd=32, n_layer=2, n_head=2, num_labels=1,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    return GPT2ForSequenceClassification(config)


def only_known(cls, wanted):
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in wanted.items() if k in known})


def dpo_config(out_dir):
    """A few steps on the CPU; only the options this TRL version has are passed."""
    wanted = dict(
        output_dir=out_dir, per_device_train_batch_size=2, gradient_accumulation_steps=1, max_steps=3,
        learning_rate=1e-3, logging_steps=1, report_to="none", save_strategy="no", max_length=1024,
        max_prompt_length=768, use_cpu=True, bf16=False, fp16=False, seed=0, dataloader_num_workers=0,
        beta=0.1,
    )
    known = {f.name for f in dataclasses.fields(DPOConfig)}
    return DPOConfig(**{k: v for k, v in wanted.items() if k in known})


def show(name, ds):
    print(f"  {name}: {ds.num_rows} rows, columns {sorted(ds.column_names)}")


def main(export_dir):
    print(f"datasets {datasets.__version__}, trl {trl.__version__}, transformers {transformers.__version__}, torch {torch.__version__}")
    torch.set_num_threads(1)
    path = lambda name: os.path.join(export_dir, name)  # noqa: E731

    print("load_dataset('json', data_files=...):")
    loaded = {}
    for name in ("conversational", "standard", "h4", "sft"):
        ds = datasets.load_dataset("json", data_files=path(f"{name}.jsonl"), split="train")
        show(name, ds)
        loaded[name] = ds
    conv, std = loaded["conversational"], loaded["standard"]
    assert isinstance(conv[0]["prompt"], list) and conv[0]["chosen"][0]["role"] == "assistant", "conversational: prompt is a list of messages"
    assert isinstance(std[0]["prompt"], str) and std[0]["prompt"].endswith("\n\nAssistant:"), "standard: an HH transcript"
    multi = [r["prompt"] for r in conv if len(r["prompt"]) > 1]
    print(f"  conversational: {len(multi)} multi-turn prompts, e.g. roles {[m['role'] for m in multi[0]]}" if multi else "  no multi-turn prompt")
    assert isinstance(loaded["h4"][0]["prompt"], str) and isinstance(loaded["h4"][0]["messages"], list)
    assert loaded["sft"][0]["messages"][-1]["role"] == "assistant"

    print(f"load_dataset('{path('hf')}'):")
    folder = datasets.load_dataset(path("hf"))
    for split, ds in folder.items():
        show(split, ds)
    assert set(folder.keys()) == {"train", "test"}, f"splits {list(folder.keys())}"

    tokenizer = tiny_tokenizer([path("conversational.jsonl"), path("standard.jsonl")])
    print(f"tokenizer: word-level, {len(tokenizer)} tokens, trained on the exports")
    results = {}
    for name, ds in (("conversational", conv), ("standard", std), ("hf train split", folder["train"])):
        model = tiny_model(tokenizer)
        with tempfile.TemporaryDirectory() as out:
            # The reference model is passed: TRL would load it again by the model's name, which a model built here has not.
            trainer = DPOTrainer(model=model, ref_model=tiny_model(tokenizer), args=dpo_config(out), train_dataset=ds, processing_class=tokenizer)
            rows = {r["id"]: r for r in trainer.train_dataset}
            out_result = trainer.train()
            logs = [entry for entry in trainer.state.log_history if "loss" in entry]
        last = logs[-1] if logs else {}
        keys = ("loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins")
        print(f"DPOTrainer on {name}: {trainer.state.global_step} steps, train_loss {out_result.training_loss:.4f}; last step " + ", ".join(f"{k} {last[k]:.4f}" for k in keys if k in last))
        # What the model is trained on for a multi-turn prompt: the whole conversation before the answer.
        multi_row = next(r for r in ds if (len(r["prompt"]) > 1 if isinstance(r["prompt"], list) else r["prompt"].count("Human:") > 1))
        tokenized = rows[multi_row["id"]]
        ids = tokenized.get("prompt_ids", tokenized.get("prompt_input_ids"))
        text = tokenizer.decode(ids)
        turns = text.count("<|user|>") if isinstance(multi_row["prompt"], list) else text.count("Human")
        print(f"  multi-turn example {multi_row['id']}: {len(ids)} prompt tokens, {turns} human turns; decoded: {text[:150]!r}...")
        assert turns >= 2, "the prompt tokens hold the whole conversation"
        results[name] = out_result.training_loss
        assert trainer.state.global_step == 3
    if "margin" in conv.column_names:
        # Judged pairs (ai-feedback, verify): UltraFeedback-style scores and TRL's reward `margin` at the top level.
        print(f"  judged: score_chosen {conv[0]['score_chosen']:.3f}, score_rejected {conv[0]['score_rejected']:.3f}, margin {conv[0]['margin']:.3f}")
        with tempfile.TemporaryDirectory() as out:
            args = only_known(RewardConfig, dict(
                output_dir=out, per_device_train_batch_size=2, max_steps=3, learning_rate=1e-3, logging_steps=1,
                report_to="none", save_strategy="no", max_length=1024, use_cpu=True, bf16=False, seed=0,
                center_rewards_coefficient=None,
            ))
            trainer = RewardTrainer(model=tiny_reward_model(tokenizer), args=args, train_dataset=conv, processing_class=tokenizer)
            result = trainer.train()
        print(f"RewardTrainer on conversational (with its margin column): {trainer.state.global_step} steps, train_loss {result.training_loss:.4f}")
        assert trainer.state.global_step == 3
    print("OK: every export loads with datasets, and DPOTrainer trains on conversational, standard and the hf folder")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(f"usage: {sys.argv[0]} EXPORT_DIR... (each made by: npm run demo -- --export EXPORT_DIR)")
    for export_dir in sys.argv[1:]:
        print(f"== {export_dir}")
        main(export_dir)
