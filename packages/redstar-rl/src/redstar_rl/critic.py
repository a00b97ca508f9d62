"""PPO's critic: a transformer backbone with a scalar value head, separate from the policy.

The backbone is loaded from a causal-LM checkpoint without its language-model head (by default
the policy's own starting checkpoint), and the head starts at zero, so the first values are 0 and
the critic warm-up steps fit it to the returns before the actor moves.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from redstar_rl.rollout import Batch


class ValueModel(nn.Module):
    def __init__(self, backbone: nn.Module, hidden_size: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(hidden_size, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    @classmethod
    def from_pretrained(cls, path: str | Path) -> ValueModel:
        from transformers import AutoModel

        backbone = AutoModel.from_pretrained(str(path), dtype=torch.float32)
        return cls(backbone, backbone.config.get_text_config().hidden_size)

    def forward(self, input_ids: Tensor, attention_mask: Tensor, position_ids: Tensor) -> Tensor:
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask,
                               position_ids=position_ids).last_hidden_state
        return self.head(hidden).squeeze(-1)

    def response_values(self, batch: Batch) -> Tensor:
        """The value of the state before each response token ([b, T]): read at the position that
        precedes the token, where the policy's logits for it are read too."""
        values = self(batch.input_ids, batch.attention_mask, batch.position_ids)
        return values[:, batch.prompt_width - 1 : -1].float()
