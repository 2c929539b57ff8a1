export { Optimizer, type OptimizerState, type ParamGroup } from './optimizer.js';
export { Adam, type AdamOptions } from './adam.js';
export { SGD, type SGDOptions } from './sgd.js';
export { LRScheduler, LinearDecayLR, StepLR, CosineAnnealingLR } from './lr_scheduler.js';
export { GradScaler, type GradScalerOptions, type GradScalerState } from './grad_scaler.js';
