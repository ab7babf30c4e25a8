/** Every read model the projector maintains, in the order they are started and listed. */
import type { Projection } from '../projection';
import { dailyVolumeProjection } from './daily-volume';
import { paymentTimelineProjection } from './payment-timeline';
import { paymentsProjection } from './payments';

export const READ_MODELS: readonly Projection[] = [paymentsProjection, dailyVolumeProjection, paymentTimelineProjection];

export function findReadModel(name: string, projections: readonly Projection[] = READ_MODELS): Projection | undefined {
  return projections.find((projection) => projection.name === name);
}
