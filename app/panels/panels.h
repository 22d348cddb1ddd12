// QKV Lab app — every panel, each a function of the AppState (one file each in app/panels/).
// app/main.cpp decides where each is shown.
#pragma once

#include "app/app_state.h"

namespace qkv::app {

void DrawInputPanel(AppState&);      // source/target text, tokens as chips (click: mark as padding)
void DrawModelPanel(AppState&);      // architecture and every toggle; invalid edits explained, never applied
void DrawStepperPanel(AppState&);    // the layer diagram, sub-steps, the selected step's tensor and formula
void DrawAttentionPanel(AppState&);  // every head of the selected block at a stage, head average, scaling on/off
void DrawQKVPanel(AppState&);        // X, W_Q, W_K, W_V, Q, K, V of the selected head with the shape equations
void DrawScalingPanel(AppState&);    // √d_k, d_k, τ: score histograms, entropy and max weight against d_k
void DrawMaskPanel(AppState&);       // none / causal / padding / custom cells; scores with −∞ and renormalised rows
void DrawPositionsPanel(AppState&);  // sin/cos curves, the PE matrix, ⟨p_m,p_n⟩, base; sinusoidal/learned/RoPE/ALiBi
void DrawParametersPanel(AppState&); // parameters and FLOPs per component, presets, attention memory against n
void DrawGradientsPanel(AppState&);  // dL/dS, dL/dP, the softmax Jacobian, gradient norms, why √d_k, Pre/Post-Norm
void DrawTrainPanel(AppState&);
void DrawOutputPanel(AppState&);     // output probabilities with token labels, top-k bars, sampling, step-by-step generation      // train a toy task live: loss curve with a ghost, heads forming, pause/step/reset

}  // namespace qkv::app
