"""Built-in generation backends: transformers (CPU/GPU), vLLM (GPU, optional extra) and any
OpenAI-compatible server."""

from redstar import hookimpl


@hookimpl
def redstar_register_samplers(register):
    from redstar.samplers.openai_server import OpenAISampler
    from redstar.samplers.transformers_local import TransformersSampler
    from redstar.samplers.vllm_engine import VLLMSampler

    register(TransformersSampler)
    register(VLLMSampler)
    register(OpenAISampler)
