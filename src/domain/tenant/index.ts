export * from './daily-limit';
export * from './policy';
