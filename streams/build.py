"""The worker's `ScoringPipeline`, built from settings: where the stream's Redis, model and policy
come from. Used by the pipeline's process (streams/offload.py), which never imports the faust
app."""

from __future__ import annotations

import math

from features.config import FeatureConfig
from features.redelivery import RowMemory
from features.redis_store import RedisFeatureStore
from features.registry import feature_set_hash
from models.registry import Registry
from models.settings import registry_settings
from policy.rules import Policy
from streams import metrics
from streams.alignment import Alignment
from streams.catalog_gate import CatalogGate
from streams.held import HeldEvents
from streams.micro_batch import ScoringPipeline
from streams.model_source import NoPromotedModel, PromotedModel, load_checked
from streams.segment_rates import SegmentRates
from streams.settings import redis_settings, topic_settings, worker_settings
from streams.start_errors import needs


def build_pipeline() -> ScoringPipeline:
    """Connect the feature store and load the promoted (and shadow) model and the policy; a
    step that fails raises `CannotStart` naming the setting to fix."""
    worker, config, topics = worker_settings(), FeatureConfig(), topic_settings()
    redis_conf = redis_settings()
    with needs("RETURNRISK_WORKER_POLICY_FILE", "cannot load the policy"):
        policy = Policy.load(worker.policy_file)
    registry = Registry(registry_settings().dir)
    expected = feature_set_hash(config)
    threads = worker.scoring_threads
    with needs("RETURNRISK_REGISTRY_DIR", f"cannot load the promoted model from {registry.root}"):
        if not registry.root.is_dir():
            raise NoPromotedModel("the registry folder does not exist")
        promoted = PromotedModel(
            registry, feature_set_hash=expected, poll_s=worker.model_poll_s, predict_threads=threads
        )
    with needs("RETURNRISK_WORKER_POLICY_FILE", "the policy does not fit the promoted model"):
        model = promoted.current()
        policy.check_categories(model.categories(), f"model {model.version}")
    with needs("RETURNRISK_WORKER_SHADOW_VERSION", "cannot load the shadow version"):
        shadow = (
            load_checked(registry.path(worker.shadow_version), expected, threads)
            if worker.shadow_version
            else None
        )
    with needs("RETURNRISK_REDIS_URL", f"cannot reach Redis at {redis_conf.url_redacted}"):
        client = redis_conf.connect()
    store = RedisFeatureStore(
        client,
        prefix=worker.redis_key_prefix,
        on_round_trip=metrics.REDIS_SECONDS.observe,
        cache_customers=worker.state_cache_customers,
        rows_ttl_seconds=math.ceil(worker.redelivery_memory_s),
        grace_days=config.grace_days,
    )
    rates = SegmentRates(
        client,
        prefix=f"{worker.redis_key_prefix}:segment",
        window_days=policy.config.alerts.segment_return_spike.window_days,
    )
    return ScoringPipeline(
        store,
        promoted.current,
        topics,
        config,
        HeldEvents(client, prefix=worker.redis_key_prefix),
        Alignment(topics.inputs),
        policy=policy,
        segment_rates=rates,
        shadow=shadow,
        row_memory=RowMemory(keep_s=worker.redelivery_memory_s),
        gate=CatalogGate(client, prefix=worker.redis_key_prefix),
    )
