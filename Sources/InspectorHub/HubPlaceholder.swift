public enum InspectorHubPlaceholder {}
