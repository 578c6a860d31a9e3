// hydrogen-view-sdk ships no usable type declarations (its README says to declare it).
declare module 'hydrogen-view-sdk';
