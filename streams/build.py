"""The worker's `ScoringPipeline`, built from settings: where the stream's Redis, model and policy
come from. Used by the pipeline's process (streams/offload.py), which never imports the faust
app."""

from __future__ import annotations

import redis

from features.config import FeatureConfig
from features.redis_store import RedisFeatureStore
from features.registry import feature_set_hash
from models.policy import Policy
from models.registry import Registry
from returnrisk.settings import redis_settings, registry_settings, topic_settings, worker_settings
from streams import metrics
from streams.alignment import Alignment
from streams.held import HeldEvents
from streams.model_source import PromotedModel, load_checked
from streams.pipeline import ScoringPipeline
from streams.segment_rates import SegmentRates


def build_pipeline() -> ScoringPipeline:
    """Connect the feature store and load the promoted (and shadow) model."""
    worker, config, topics = worker_settings(), FeatureConfig(), topic_settings()
    redis_conf = redis_settings()
    client = redis.Redis.from_url(redis_conf.url.get_secret_value(), **redis_conf.client_options())
    store = RedisFeatureStore(
        client,
        prefix=worker.redis_key_prefix,
        on_round_trip=metrics.REDIS_SECONDS.observe,
        cache_customers=worker.state_cache_customers,
    )
    registry = Registry(registry_settings().dir)
    expected = feature_set_hash(config)
    threads = worker.scoring_threads
    promoted = PromotedModel(
        registry, feature_set_hash=expected, poll_s=worker.model_poll_s, predict_threads=threads
    )
    shadow = (
        load_checked(registry.path(worker.shadow_version), expected, threads)
        if worker.shadow_version
        else None
    )
    policy = Policy.load(worker.policy_file)
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
    )
